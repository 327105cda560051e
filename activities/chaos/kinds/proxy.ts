/**
 * Local implementation shared by the kinds the fault proxy in front of each service applies (like a NetworkChaos /
 * HTTPChaos on that app's pods). The proxy keys them by fault key and drops them itself at `expiresAtMs`, so a
 * crashed worker cannot leave one behind.
 */
import type { ProxyFault } from '../../../infra/local/supervisor/api';
import type { LocalKind, ResolvedFault } from './kind';

export function proxyLocal<P>(toProxy: (f: ResolvedFault<P>) => Omit<ProxyFault, 'expiresAtMs'>): LocalKind<P> {
  return {
    oneShot: false,
    timed: true,
    hostProcess: false,
    async apply(ctx, fault) {
      await ctx.supervisor.putProxyFault(fault.app, fault.key, { ...toProxy(fault), expiresAtMs: fault.endMs });
    },
    async recover(ctx, fault) {
      await ctx.supervisor.deleteProxyFault(fault.app, fault.key);
    },
    async recovered(ctx, fault) {
      const active = await ctx.supervisor.listProxyFaults();
      return !active.some((f) => f.faultId === fault.key && f.app === fault.app);
    },
    async isApplied(ctx, fault) {
      const active = await ctx.supervisor.listProxyFaults();
      return active.some((f) => f.faultId === fault.key);
    },
  };
}
