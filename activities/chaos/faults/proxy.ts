import type { ProxyFault } from '../../../infra/local/supervisor/api';
import { parseDuration } from '../../../schemas/duration';
import type { FaultType } from '../../../schemas/faults';
import type { Fault, ResolvedFault } from './fault';

/**
 * Faults applied by the fault proxy in front of each service (like a NetworkChaos / HTTPChaos on that app's
 * pods). The proxy keys them by fault key and drops them itself at `expiresAtMs`, so a crashed worker cannot
 * leave one behind.
 */
export function proxyFault(type: FaultType, toProxy: (f: ResolvedFault) => Omit<ProxyFault, 'expiresAtMs'>): Fault {
  return {
    type,
    oneShot: false,
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

const num = (v: unknown, d: number) => (typeof v === 'number' ? v : d);
const dur = (v: unknown, d: string) => parseDuration(typeof v === 'string' ? v : d);

export const networkDelay = proxyFault('network-delay', (f) => ({
  kind: 'delay',
  latencyMs: dur(f.params.latency, '200ms'),
  jitterMs: dur(f.params.jitter, '0ms'),
}));
export const networkLoss = proxyFault('network-loss', (f) => ({ kind: 'loss', percent: num(f.params.loss, 30) }));
export const httpAbort = proxyFault('http-abort', (f) => ({
  kind: 'http-abort',
  percent: num(f.params.percent, 100),
  statusCode: num(f.params.code, 503),
}));
export const httpDelay = proxyFault('http-delay', (f) => ({
  kind: 'http-delay',
  percent: num(f.params.percent, 100),
  latencyMs: dur(f.params.delay, '500ms'),
}));
