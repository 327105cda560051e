import type { Fault } from './fault';
import { podsBack } from './fault';

/** pod-kill: SIGKILL each selected pod through the supervisor, which restarts it like a ReplicaSet. */
export const podKill: Fault = {
  type: 'pod-kill',
  oneShot: true,
  async apply(ctx, fault) {
    const grace = Number(fault.params.gracePeriodSeconds ?? 0);
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
};
