import { FAULT_TYPES } from '../../schemas/faults';
import type { FaultRecord } from '../../schemas/fault-log';

/** Per-point labels: 1 = anomalous, plus a bit mask of the fault types active at that point. */
export interface PointLabels {
  isAnomaly: Uint8Array;
  typeMask: Uint32Array;
  /** bit index → fault type */
  types: string[];
  /** Faults used (applied ones), and faults ignored because they never took effect. */
  applied: number;
  ignored: number;
  /** Applied faults whose labelled interval reaches outside the labelled range (e.g. into the baseline). */
  outsideRange: number;
}

/** First index with ts[i] >= x (ts ascending). */
export function lowerBound(ts: Float64Array, x: number, lo = 0, hi = ts.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ts[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The labelled interval of one fault: [appliedMs, (recoveredMs ?? removedMs) + margin), or open-ended. */
export function faultInterval(f: FaultRecord, marginMs: number): { from: number; to: number } | undefined {
  if (f.appliedMs === undefined) return undefined;
  const end = f.recoveredMs ?? f.removedMs;
  // A fault never removed nor recovered stays anomalous to the end of the data.
  const to = end === undefined ? Number.POSITIVE_INFINITY : Math.max(end, f.appliedMs) + marginMs;
  return { from: f.appliedMs, to };
}

/**
 * Labels the points ts[from..to) from the fault log; points outside that range stay normal
 * (the baseline is normal by construction). A point at t is anomalous iff some applied fault has
 * appliedMs ≤ t < (recoveredMs ?? removedMs) + marginMs.
 */
export function labelPoints(
  ts: Float64Array,
  faults: FaultRecord[],
  marginMs: number,
  range: { from: number; to: number } = { from: 0, to: ts.length },
): PointLabels {
  const isAnomaly = new Uint8Array(ts.length);
  const typeMask = new Uint32Array(ts.length);
  const types: string[] = [];
  const bitOf = new Map<string, number>();
  // Stable bit order: the vocabulary order, then unknown types as met.
  const used = [...new Set(faults.filter((f) => f.appliedMs !== undefined).map((f) => f.type as string))];
  used.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  for (const t of used) {
    if (types.length >= 32) throw new Error('more than 32 fault types in one campaign');
    bitOf.set(t, types.length);
    types.push(t);
  }
  let applied = 0;
  let ignored = 0;
  let outsideRange = 0;
  const lastTs = ts.length ? (ts[ts.length - 1] as number) : 0;
  const firstTs = ts.length ? (ts[0] as number) : 0;
  const rangeFrom = range.from < ts.length ? (ts[range.from] as number) : lastTs;
  const rangeTo = range.to > 0 && range.to <= ts.length ? (ts[range.to - 1] as number) : firstTs;
  for (const f of faults) {
    const iv = faultInterval(f, marginMs);
    if (!iv) {
      ignored++;
      continue;
    }
    applied++;
    if (iv.from < rangeFrom || iv.to > rangeTo + 1) outsideRange++;
    const a = Math.max(range.from, lowerBound(ts, iv.from));
    const b = Math.min(range.to, Number.isFinite(iv.to) ? lowerBound(ts, iv.to) : ts.length);
    const bit = 1 << (bitOf.get(f.type) as number);
    for (let i = a; i < b; i++) {
      isAnomaly[i] = 1;
      typeMask[i]! |= bit;
    }
  }
  return { isAnomaly, typeMask, types, applied, ignored, outsideRange };
}

function rank(t: string): number {
  const i = (FAULT_TYPES as readonly string[]).indexOf(t);
  return i < 0 ? FAULT_TYPES.length : i;
}

/** "cpu-stress+pod-kill" for a mask (null for 0): overlapping faults keep every type. */
export function maskName(mask: number, types: string[]): string | null {
  if (mask === 0) return null;
  const out: string[] = [];
  for (let b = 0; b < types.length; b++) if (mask & (1 << b)) out.push(types[b] as string);
  return out.join('+');
}

/** maskName with a cache: a campaign has few distinct masks, and a million windows ask for them. */
export function maskNamer(types: string[]): (mask: number) => string | null {
  const cache = new Map<number, string | null>();
  return (mask) => {
    let name = cache.get(mask);
    if (name === undefined) {
      name = maskName(mask, types);
      cache.set(mask, name);
    }
    return name;
  };
}
