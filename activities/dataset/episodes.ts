import type { FaultRecord } from '../../schemas/fault-log';
import { rootCauseOf } from '../chaos/kinds/registry';
import { faultInterval, lowerBound } from './label';
import type { WindowSet } from './windows';

/**
 * Per-episode ground truth (episodes.json beside the windows): which service(s) each injected fault
 * hit, its kind and its labelled interval, and per split the windows it labelled. Root-cause
 * localisation is scored against this; the existing outputs stay as they were.
 */
export interface FaultEpisode {
  /** fault id from the fault log */
  id: string;
  /** fault kind (pod-kill, cpu-stress, …) */
  type: string;
  /**
   * the root-cause service(s), what localisation is scored against: the fault kind's root cause (its `rootCause`
   * in activities/chaos/kinds; dependency-failure: the dependency), else the selected app (one per record)
   */
  services: string[];
  /** the app the fault's selector picked, when it is not the root cause (dependency-failure: the caller) */
  selected?: string;
  /** the target pod(s) */
  pods: string[];
  /** when the fault took effect, UTC epoch ms */
  appliedMs: number;
  /** the end of its labelled interval (recovered/removed + margin), UTC epoch ms; null = never ended */
  endMs: number | null;
  /** per split: the index range [from, to) of the windows this episode labelled anomalous (absent: none) */
  windows: Partial<Record<'train' | 'val' | 'test', [number, number]>>;
}

export interface EpisodesFile {
  /** how episodes were derived, so a reader need not guess */
  rule: string;
  marginMs: number;
  episodes: FaultEpisode[];
}

/**
 * The episodes of the applied faults, in time order, with the windows each labelled. A window belongs
 * to an episode when its label-rule points ('any': any point; 'last': its last point) fall in the
 * episode's labelled interval; windows are in time order within a split, so these form one index range.
 */
export function faultEpisodes(
  faults: readonly FaultRecord[],
  marginMs: number,
  ts: Float64Array,
  windows: Partial<Record<'train' | 'val' | 'test', WindowSet>>,
  windowSize: number,
  rule: 'any' | 'last',
): EpisodesFile {
  const out: FaultEpisode[] = [];
  for (const f of faults) {
    const iv = faultInterval(f, marginMs);
    if (!iv) continue;
    const ep: FaultEpisode = {
      id: f.id,
      type: f.type,
      services: f.target?.app ? [rootCauseOf({ type: f.type, app: f.target.app, params: f.params })] : [],
      pods: f.target?.pods ?? [],
      appliedMs: iv.from,
      endMs: Number.isFinite(iv.to) ? iv.to : null,
      windows: {},
    };
    if (f.target?.app && ep.services[0] !== f.target.app) ep.selected = f.target.app;
    // Point index range [a, b) of the interval.
    const a = lowerBound(ts, iv.from);
    const b = Number.isFinite(iv.to) ? lowerBound(ts, iv.to) : ts.length;
    for (const [split, set] of Object.entries(windows) as Array<['train' | 'val' | 'test', WindowSet]>) {
      // Window w covers points [s, s + W) ('last': point s + W − 1 only); starts ascend, so the
      // windows whose rule points meet [a, b) are those with a − W + 1 ≤ s < b − off.
      const off = rule === 'last' ? windowSize - 1 : 0;
      let from = firstAtLeast(set.starts, a - windowSize + 1);
      let to = firstAtLeast(set.starts, b - off);
      // Only labelled windows count: a fault outside the labelled range (the baseline) labels none.
      while (from < to && set.labels[from] === 0) from++;
      while (to > from && set.labels[to - 1] === 0) to--;
      if (to > from) ep.windows[split] = [from, to];
    }
    out.push(ep);
  }
  out.sort((x, y) => x.appliedMs - y.appliedMs || x.id.localeCompare(y.id));
  return {
    rule: `one episode per applied fault; interval appliedMs ≤ t < (recoveredMs ?? removedMs) + ${marginMs} ms; windows by the '${rule}' label rule`,
    marginMs,
    episodes: out,
  };
}

/** First index with starts[i] >= x (starts ascending). */
function firstAtLeast(starts: Int32Array, x: number): number {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((starts[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
