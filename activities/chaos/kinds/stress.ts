/**
 * Local implementation shared by the stress kinds: a stress-ng process charged to the target pod's cgroups,
 * started and killed through the context's host-process runner (activities/chaos/stress-ng.ts).
 */
import type { LocalKind, ResolvedFault } from './kind';

export function stressLocal<P>(argvFor: (f: ResolvedFault<P>) => string[]): LocalKind<P> {
  return {
    oneShot: false,
    // it spawns a process: the engine's loop applies it at the instant, not the trigger thread
    timed: false,
    hostProcess: true,
    apply: (ctx, fault) => ctx.processes.start(ctx, fault, argvFor(fault)),
    recover(ctx, fault) {
      ctx.processes.stop(fault);
      return Promise.resolve();
    },
    recovered: (ctx, fault) => Promise.resolve(!ctx.processes.running(fault)),
    isApplied: (ctx, fault) => Promise.resolve(ctx.processes.running(fault)),
  };
}
