import { existsSync } from 'node:fs';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { reapOrphanedBrowsers } from '../activities/browser/orphans';
import { TASK_QUEUE } from '../workflows/messages';
import { WORKFLOW_BUNDLE_PATH } from './bundle';
import { createChaosHostWorker } from './chaos-host-worker';
import { failStart, shutdownOnSignals, workerEnv } from './env';

/** The main worker: every workflow plus the CPU activities, on task queue `faultline`. */
export async function runMainWorker(): Promise<void> {
  const env = workerEnv();
  // A worker killed while its browser probe ran left chromedriver + chromium running; take them down first.
  const reaped = await reapOrphanedBrowsers().catch((err: unknown) => {
    console.error(`[worker] could not reap orphaned browsers: ${String(err)}`);
    return [];
  });
  if (reaped.length > 0) console.error(`[worker] reaped ${reaped.length} orphaned browser processes`);
  const connection = await NativeConnection.connect({ address: env.address, tls: env.tls, apiKey: env.apiKey });
  // FAULTLINE_TASK_QUEUE isolates test runs sharing one server; production uses the default.
  const taskQueue = process.env.FAULTLINE_TASK_QUEUE ?? TASK_QUEUE;
  // This process's own queue for the chaos batches of the loops it hosts (docs/coordination.md).
  const host = await createChaosHostWorker({
    connection,
    namespace: env.namespace,
    baseQueue: taskQueue,
    deps: { home: env.home },
  });
  const worker = await Worker.create({
    connection,
    namespace: env.namespace,
    taskQueue,
    // The pre-built bundle starts in ~1 s; bundling here would cost ~10 s of webpack per (re)start.
    ...(existsSync(WORKFLOW_BUNDLE_PATH)
      ? { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } }
      : { workflowsPath: require.resolve('../workflows') }),
    activities: { ...createActivities({ home: env.home }), ...host.sharedActivities },
    // Traffic, probes and the chaos loop run side by side for hours; leave room for several campaigns.
    maxConcurrentActivityTaskExecutions: Number(process.env.FAULTLINE_MAX_ACTIVITIES ?? 20),
    shutdownGraceTime: '10s',
  });
  shutdownOnSignals(() => {
    worker.shutdown();
    host.worker.shutdown();
  });
  console.error(
    `[worker] main worker polling ${taskQueue} and ${host.queue} on ${env.address} (${env.namespace}, ${env.security})`,
  );
  await Promise.all([worker.run(), host.worker.run()]);
  await connection.close();
}

if (require.main === module) {
  runMainWorker().catch(failStart);
}
