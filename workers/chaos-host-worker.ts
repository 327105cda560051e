import { Worker, type NativeConnection } from '@temporalio/worker';
import { createChaosActivities, type ChaosActivityDeps } from '../activities/chaos';
import { chaosHostQueueName, createHostQueueActivities } from '../activities/chaos/host-queue';

export interface ChaosHostWorker {
  /** This process's own chaos queue. */
  queue: string;
  worker: Worker;
  /** Register these on the shared queue's worker: `chaosHostQueue` answers with `queue`. */
  sharedActivities: ReturnType<typeof createHostQueueActivities>;
}

/**
 * The worker of this process's own chaos queue (see activities/chaos/host-queue.ts): chaos activities only, no
 * workflows. Run it beside the shared queue's worker, and register `sharedActivities` there.
 */
export async function createChaosHostWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  baseQueue: string;
  deps?: ChaosActivityDeps;
  /** Heartbeat throttling (tests shorten it). */
  heartbeatThrottle?: string;
}): Promise<ChaosHostWorker> {
  const queue = chaosHostQueueName(opts.baseQueue);
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: queue,
    activities: createChaosActivities(opts.deps),
    // one batch (two while they overlap) and a cleanup per campaign whose loop this process hosts
    maxConcurrentActivityTaskExecutions: 50,
    ...(opts.heartbeatThrottle
      ? {
          maxHeartbeatThrottleInterval: opts.heartbeatThrottle,
          defaultHeartbeatThrottleInterval: opts.heartbeatThrottle,
        }
      : {}),
    shutdownGraceTime: '10s',
  });
  return { queue, worker, sharedActivities: createHostQueueActivities(queue) };
}
