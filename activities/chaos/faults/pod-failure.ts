import type { Fault } from './fault';
import { podsBack } from './fault';

/** pod-failure: the supervisor kills the pod and holds it down until the end time (or an early release). */
export const podFailure: Fault = {
  type: 'pod-failure',
  oneShot: false,
  async apply(ctx, fault) {
    for (const pod of fault.pods) await ctx.supervisor.hold(pod.name, fault.key, fault.endMs);
  },
  async recover(ctx, fault) {
    for (const pod of fault.pods) {
      try {
        await ctx.supervisor.release(pod.name, fault.key);
      } catch (err) {
        // the pod may have been replaced (new name): its hold went with it
        if ((err as { status?: number }).status !== 404) throw err;
      }
    }
  },
  recovered: (ctx, fault, _removedMs) => podsBack(ctx, fault, fault.plannedMs),
};
