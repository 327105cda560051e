import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * A campaign's chaos batches and their cleanup hand over through files in the campaign's chaos dir (handoff.json,
 * fence.json, the fault log's tail); they must all run on one host, or those files would need a volume every
 * worker replica shares. Temporal's answer for "activities that must run on the same host" is a worker-specific
 * task queue (samples-typescript activities-sticky-queues): every worker process also polls a queue of its own,
 * an activity on the shared queue names it, and the chaos loop schedules its batches and cleanup there.
 * docs/coordination.md says what happens when that worker dies.
 */
export function chaosHostQueueName(baseQueue: string): string {
  return `${baseQueue}/chaos-host/${hostname()}/${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Served on the shared queue: which host queue this worker process polls. */
export function createHostQueueActivities(hostQueue: string) {
  return {
    async chaosHostQueue(): Promise<string> {
      return hostQueue;
    },
  };
}

export type HostQueueActivities = ReturnType<typeof createHostQueueActivities>;
