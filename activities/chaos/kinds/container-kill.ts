import { z } from 'zod';
import { defineKind } from './kind';
import { podsBackFrom } from '../pods-back';

const LOCAL_CONTAINER = 'server';

/**
 * container-kill: the selected pods' container is killed and restarted in place by its kubelet — same pod name and
 * uid, restarts + 1, no replacement pod (PodChaos container-kill). Locally the supervisor's restart-in-place verb.
 */
export const containerKill = defineKind({
  type: 'container-kill',
  params: z
    .object({
      // PodChaos container-kill requires containerNames; every Online Boutique Deployment (and the local stand-in)
      // has one container, named "server"
      containerNames: z.array(z.string().min(1)).min(1).default(['server']),
    })
    .strict(),
  doc:
    "Kills the selected pods' container (`containerNames`), restarted in place: same pod name and uid, restarts + 1; " +
    'one-shot, recovery = the same pods ready again.',
  report: { label: 'container kill', color: '#be123c' },
  services: 'any',
  local: {
    oneShot: true,
    timed: true,
    hostProcess: false,
    async apply(ctx, fault) {
      // the local stand-in's pods have one container, "server" (the supervisor's container label)
      const other = fault.params.containerNames.filter((c) => c !== LOCAL_CONTAINER);
      if (other.length > 0)
        throw new Error(
          `container-kill ${fault.id}: params.containerNames ${JSON.stringify(other)}: the local target's pods ` +
            `have one container, "${LOCAL_CONTAINER}"; name it or leave containerNames out`,
        );
      for (const pod of fault.pods) await ctx.supervisor.restartInPlace(pod.name);
    },
    async recover() {
      // one-shot: the container is already running again (the supervisor restarts it at once)
    },
    async recovered(ctx, fault, removedMs) {
      const pods = await ctx.supervisor.listPods({ app: fault.app });
      for (const hit of fault.pods) {
        const now = pods.find((p) => p.name === hit.name);
        // replaced by something else (the pod itself died since): the app's pods being back is all there is to see
        if (!now || now.uid !== hit.uid) return podsBackFrom(pods, fault, removedMs);
        if (!now.ready || now.restarts <= hit.restarts) return false;
      }
      return true;
    },
    async isApplied(ctx, fault) {
      // a crash after the restart and before the `applied` line: the count went up → do not restart it again
      for (const hit of fault.pods) {
        const now = await ctx.supervisor.getPod(hit.name);
        if (!now || now.uid !== hit.uid || now.restarts > hit.restarts) return true;
      }
      return false;
    },
  },
  chaosMesh: {
    kind: 'PodChaos',
    spec: (fault, ctx) => ({ action: 'container-kill', ...ctx.base, containerNames: fault.params.containerNames }),
    // the kubelet restarts the container: the pods' restart count goes up and they are ready again
    recovery: 'pods-back',
    // a PodChaos object exists before its controller has killed anything
    applied: 'injected',
  },
});
