import { z } from 'zod';
import { defineKind } from './kind';
import { podsBack } from './pods';

/** pod-failure: the pod is killed and held down until the end time (or an early release). */
export const podFailure = defineKind({
  type: 'pod-failure',
  params: z.object({}).strict(),
  doc: 'Holds the selected pods down (killed, not restarted) for the duration; recovery = pods back.',
  report: { label: 'pod failure', color: '#f97316' },
  services: 'any',
  local: {
    oneShot: false,
    timed: true,
    hostProcess: false,
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
  },
  chaosMesh: {
    kind: 'PodChaos',
    spec: (_fault, ctx) => ({ action: 'pod-failure', ...ctx.base, duration: ctx.duration }),
    recovery: 'pods-back',
    applied: 'exists',
  },
});
