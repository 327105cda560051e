import type { ProxyFault } from '../supervisor/api';
import { Shapers } from './bandwidth';

export type ActiveFault = ProxyFault & { app: string; faultId: string };

/** Retransmit-like stall for a "lost" chunk: TCP's minimum RTO is 200 ms, a second try lands within ~400 ms. */
export const LOSS_STALL_MIN_MS = 200;
export const LOSS_STALL_MAX_MS = 400;

/**
 * The proxy faults of every app, keyed by faultId (PUT is idempotent by id). Expired faults are ignored on read
 * and dropped by `sweep()`, so a worker that dies mid-campaign cannot leave a fault behind forever.
 */
export class FaultTable {
  private readonly byApp = new Map<string, Map<string, ProxyFault>>();
  /** The token buckets of the bandwidth faults (state shared by every proxy in front of an app). */
  readonly shapers = new Shapers();

  constructor(private readonly now: () => number = Date.now) {}

  put(app: string, faultId: string, fault: ProxyFault): void {
    let m = this.byApp.get(app);
    if (!m) {
      m = new Map<string, ProxyFault>();
      this.byApp.set(app, m);
    }
    m.set(faultId, fault);
  }

  /** True when an unexpired fault was removed. */
  delete(app: string, faultId: string): boolean {
    const m = this.byApp.get(app);
    const f = m?.get(faultId);
    if (!m || !f) return false;
    m.delete(faultId);
    return f.expiresAtMs > this.now();
  }

  /** Unexpired faults of `app` that apply to traffic to `pod` (faults without a pod list apply to every pod). */
  active(app: string, pod?: string): ActiveFault[] {
    const m = this.byApp.get(app);
    if (!m) return [];
    const t = this.now();
    const out: ActiveFault[] = [];
    for (const [faultId, f] of m) {
      if (f.expiresAtMs > t && (f.pods === undefined || (pod !== undefined && f.pods.includes(pod)))) {
        out.push({ ...f, app, faultId });
      }
    }
    return out;
  }

  /** True while a `partition` fault cuts `caller`'s route to `app` (to `pod`, when the fault lists pods). */
  partitioned(app: string, caller: string | undefined, pod?: string): boolean {
    if (caller === undefined) return false;
    return this.active(app, pod).some((f) => f.kind === 'partition' && f.from === caller);
  }

  list(): ActiveFault[] {
    const t = this.now();
    const out: ActiveFault[] = [];
    for (const [app, m] of this.byApp) {
      for (const [faultId, f] of m) if (f.expiresAtMs > t) out.push({ ...f, app, faultId });
    }
    return out;
  }

  sweep(): void {
    const t = this.now();
    for (const m of this.byApp.values()) for (const [id, f] of m) if (f.expiresAtMs <= t) m.delete(id);
    this.shapers.sweep(t);
  }
}

function jittered(latencyMs: number, jitterMs: number): number {
  return Math.max(0, latencyMs + (Math.random() * 2 - 1) * jitterMs);
}

/**
 * Network model for one data chunk leaving a pod (like netem on the pod's egress): every `delay` fault adds
 * latency ± jitter (uniform); every `loss` fault stalls the chunk, with probability percent/100, for a
 * retransmission time drawn from [200, 400] ms. The proxy never drops bytes (the client's TCP would retransmit
 * them): a lost segment shows up as that stall plus head-of-line blocking of the chunks behind it.
 */
export function chunkDelayMs(faults: ProxyFault[]): number {
  let d = 0;
  for (const f of faults) {
    if (f.kind === 'delay') d += jittered(f.latencyMs ?? 0, f.jitterMs ?? 0);
    else if (f.kind === 'loss' && Math.random() * 100 < (f.percent ?? 0)) {
      d += LOSS_STALL_MIN_MS + Math.random() * (LOSS_STALL_MAX_MS - LOSS_STALL_MIN_MS);
    }
  }
  return d;
}

/** HTTP faults for one request: an abort status (first matching abort fault) and an added delay. */
export function httpDecision(faults: ProxyFault[]): { abortStatus?: number; delayMs: number } {
  let delayMs = 0;
  let abortStatus: number | undefined;
  for (const f of faults) {
    const hit = Math.random() * 100 < (f.percent ?? 100);
    if (f.kind === 'http-abort' && hit && abortStatus === undefined) abortStatus = f.statusCode ?? 503;
    else if (f.kind === 'http-delay' && hit) delayMs += jittered(f.latencyMs ?? 0, f.jitterMs ?? 0);
  }
  return { abortStatus, delayMs };
}

/**
 * Checks a PUT body. `callersOf` lists the apps that reach `app` over a route of their own (AppSpec.routes): the
 * only callers a partition can cut without cutting everyone.
 */
export function validateFault(
  app: string,
  protocol: 'grpc' | 'http',
  f: unknown,
  callersOf: readonly string[] = [],
): ProxyFault {
  if (typeof f !== 'object' || f === null) throw new Error('fault must be a JSON object');
  const o = f as Record<string, unknown>;
  const kinds = ['delay', 'loss', 'http-abort', 'http-delay', 'bandwidth', 'partition'];
  if (typeof o.kind !== 'string' || !kinds.includes(o.kind)) throw new Error(`kind must be one of ${kinds.join(', ')}`);
  if (typeof o.expiresAtMs !== 'number' || !Number.isFinite(o.expiresAtMs)) {
    throw new Error('expiresAtMs (UTC epoch ms) is required');
  }
  for (const k of ['latencyMs', 'jitterMs', 'percent', 'statusCode', 'bufferBytes', 'limitBytes'] as const) {
    if (o[k] !== undefined && (typeof o[k] !== 'number' || o[k] < 0)) {
      throw new Error(`${k} must be a non-negative number`);
    }
  }
  if (o.pods !== undefined && (!Array.isArray(o.pods) || !o.pods.every((p) => typeof p === 'string'))) {
    throw new Error('pods must be a list of pod names');
  }
  if (o.percent !== undefined && (o.percent as number) > 100) throw new Error('percent must be within 0..100');
  if ((o.kind === 'http-abort' || o.kind === 'http-delay') && protocol !== 'http') {
    throw new Error(`${o.kind} applies to HTTP services only; ${app} speaks gRPC (use delay or loss)`);
  }
  if (o.kind === 'http-abort' && o.statusCode !== undefined) {
    const s = o.statusCode as number;
    if (!Number.isInteger(s) || s < 100 || s > 599) throw new Error('statusCode must be an HTTP status (100..599)');
  }
  if (o.kind === 'bandwidth') {
    const r = o.rateBytesPerSec;
    if (typeof r !== 'number' || !Number.isFinite(r) || r <= 0) {
      throw new Error(
        'bandwidth needs rateBytesPerSec, a positive number (bytes per second; 1mbps as Chaos Mesh converts it = 1048576)',
      );
    }
    if (o.limitBytes !== undefined && (o.limitBytes as number) < 1) throw new Error('limitBytes must be at least 1');
  }
  if (o.kind === 'partition') {
    if (typeof o.from !== 'string' || !o.from)
      throw new Error('partition needs from: the caller app whose route is cut');
    if (!callersOf.includes(o.from)) {
      throw new Error(
        `no route of its own from ${o.from} to ${app} (callers with one: ${callersOf.join(', ') || 'none'}); ` +
          'a partition cuts one caller only where its address for the dependency is a per-caller route (AppSpec.routes)',
      );
    }
  }
  return o as unknown as ProxyFault;
}
