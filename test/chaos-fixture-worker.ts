import { NativeConnection, Worker } from '@temporalio/worker';
import { createChaosActivities } from '../activities/chaos';
import { createChaosHostWorker } from '../workers/chaos-host-worker';

/**
 * An activities-only worker process for the chaos crash test (test/chaos-loop.test.ts): the test SIGKILLs it in
 * the middle of an injection batch and starts another, while the workflows run in the test process.
 * env: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, CHAOS_TASK_QUEUE, FAULTLINE_HOME.
 */
async function main(): Promise<void> {
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const taskQueue = process.env.CHAOS_TASK_QUEUE ?? 'chaos-test';
  // as workers/main.ts: this process's own queue for the batches of the loops it hosts
  const host = await createChaosHostWorker({ connection, namespace, baseQueue: taskQueue, heartbeatThrottle: '1s' });
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    activities: { ...createChaosActivities(), ...host.sharedActivities },
    // heartbeats reach the server at least every second, so the crash loses at most ~1 s of progress details
    maxHeartbeatThrottleInterval: '1s',
    defaultHeartbeatThrottleInterval: '1s',
  });
  process.stdout.write('worker ready\n');
  await Promise.all([worker.run(), host.worker.run()]);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
