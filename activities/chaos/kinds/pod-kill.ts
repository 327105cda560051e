import { z } from 'zod';
import { defineKind } from './kind';
import { podsBack } from './pods';

/** pod-kill: SIGKILL each selected pod; it comes back as a ReplicaSet would bring it back. */
export const podKill = defineKind({
  type: 'pod-kill',
  params: z.object({ gracePeriodSeconds: z.number().int().min(0).default(0) }).strict(),
  doc: 'Kills the selected pods (SIGKILL, or SIGTERM with a grace period); one-shot, recovery = pods back.',
  report: { label: 'pod kill', color: '#ef4444' },
  services: 'any',
  local: {
    oneShot: true,
    timed: true,
    hostProcess: false,
    async apply(ctx, fault) {
      const grace = fault.params.gracePeriodSeconds;
      for (const pod of fault.pods) await ctx.supervisor.kill(pod.name, grace > 0 ? 'SIGTERM' : 'SIGKILL');
    },
    async recover() {
      // one-shot: the kill is over once delivered; the supervisor brings the pod back
    },
    recovered: (ctx, fault, _removedMs) => podsBack(ctx, fault, fault.plannedMs),
    async isApplied(ctx, fault) {
      // a crash after the kill and before the `applied` line: the pod restarted or is gone → do not kill again
      for (const hit of fault.pods) {
        const now = await ctx.supervisor.getPod(hit.name);
        if (!now || now.uid !== hit.uid || now.restarts > hit.restarts || !now.ready) return true;
      }
      return false;
    },
  },
  chaosMesh: {
    kind: 'PodChaos',
    spec: (fault, ctx) => ({ action: 'pod-kill', ...ctx.base, gracePeriod: fault.params.gracePeriodSeconds }),
    recovery: 'pods-back',
    // a PodChaos object exists before its controller has killed anything
    applied: 'injected',
  },
});
