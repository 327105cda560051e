import { quantile } from '../localise/baro';
import { removeCommonMode } from '../localise/common-mode';
import { seriesOwner } from '../localise/series';
import { DEFAULT_SYMPTOM_WALK, SYMPTOMS, symptomOf } from '../localise/symptom-walk';

/**
 * The trailing robust z detector: each series' deviation from the median of its OWN previous minutes, in
 * IQRs of those minutes, in the direction a fault pushes it; a row's score is its largest series'.
 *
 * Why a detector that forgets: on a shared host the baseline is not the chaos phase's normal (load drifts,
 * so every detector that measures distance to the training data scores the drift, ROC-AUC ≈ 0.6 on the
 * localisation campaigns), while a fault is a change against the last few minutes. It is the per-episode
 * score faultline's localiser uses (`localise/symptom-walk.ts`: directions, metric floors, the client-side
 * latencies' common part removed), made causal and continuous: no onset, no labels, nothing fitted.
 */
export interface TrailingZOptions {
  /** rows of history a row is compared with (5 min of 1 s rows) */
  horizon: number;
  /** fewer measured history rows than this: the series does not score yet */
  minHistory: number;
  /** scores are capped (a flat series' change is otherwise unbounded) */
  cap: number;
}

export const DEFAULT_TRAILING_Z: TrailingZOptions = { horizon: 300, minHistory: 20, cap: 1000 };

/** One series as the detector reads it: values in their unit, direction (0 = both ways), least spread. */
export interface ZSeries {
  x: ArrayLike<number>;
  dir: 1 | -1 | 0;
  floor: number;
}

/**
 * Per row: max over series of dir · (x_t − median(H_t)) / max(IQR(H_t), floor), H_t = the series' last
 * `horizon` measured values before t (NaN is "not measured": neither scored nor remembered). A sorted copy
 * of each series' history is kept (binary insert and delete), so a row costs O(horizon) moves per series,
 * not a sort.
 */
export function trailingRobustZ(series: readonly ZSeries[], n: number, opts = DEFAULT_TRAILING_Z): Float64Array {
  const out = new Float64Array(n).fill(0);
  const z = new Float64Array(n);
  for (const s of series) {
    seriesZ(s, n, opts, z);
    for (let t = 0; t < n; t++) if (z[t]! > out[t]!) out[t] = z[t]!;
  }
  return out;
}

/**
 * One series' directed z per row into `out` (0 where it does not score: not measured, or fewer than
 * minHistory measured values before it): trailingRobustZ's term for that series, so the detector's score at
 * a row is the largest of these and the series that reached it is the detector's own attribution.
 */
export function seriesZ(s: ZSeries, n: number, opts: TrailingZOptions, out: Float64Array | Float32Array): void {
  out.fill(0, 0, n);
  const H = opts.horizon;
  const ring = new Float64Array(H);
  let head = 0;
  let size = 0;
  const sorted: number[] = [];
  for (let t = 0; t < n; t++) {
    const v = s.x[t] as number;
    if (!Number.isFinite(v)) continue;
    if (size >= opts.minHistory) {
      const med = quantile(sorted, 0.5);
      const iqr = quantile(sorted, 0.75) - quantile(sorted, 0.25);
      const d = v - med;
      out[t] = Math.max(0, Math.min(opts.cap, (s.dir === 0 ? Math.abs(d) : s.dir * d) / Math.max(iqr, s.floor)));
    }
    if (size === H) {
      const old = ring[head]!;
      sorted.splice(lowerBoundOf(sorted, old), 1);
    } else size++;
    ring[head] = v;
    head = (head + 1) % H;
    sorted.splice(lowerBoundOf(sorted, v), 0, v);
  }
}

function lowerBoundOf(a: readonly number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A dataset scaler's affine map (scaled = (raw − offset) / scale), to read floors in the series' unit. */
export interface Affine {
  features: readonly string[];
  offset: readonly number[];
  scale: readonly number[];
}

/** Least spread of a series faultline does not know (an imported column): 1 % of its training range. */
const UNKNOWN_FLOOR_SCALED = 0.01;

/**
 * The series of a split stream (rows × features, scaled as the model reads them) as the detector reads
 * them: back in their unit where a scaler is known, then zSeriesOfColumns.
 */
export function zSeries(rows: Float64Array, n: number, features: readonly string[], scaler: Affine | null): ZSeries[] {
  const F = features.length;
  const cols = new Map<string, Float64Array>();
  features.forEach((name, j) => {
    const { scale, offset } = affineOf(name, scaler);
    const x = new Float64Array(n);
    for (let t = 0; t < n; t++) x[t] = rows[t * F + j]! * scale + offset;
    cols.set(name, x);
  });
  return zSeriesOfColumns(cols, features, unknownFloors(features, scaler));
}

function affineOf(name: string, scaler: Affine | null): { scale: number; offset: number } {
  const k = scaler ? scaler.features.indexOf(name) : -1;
  return k >= 0 ? { scale: scaler!.scale[k]! || 1, offset: scaler!.offset[k]! } : { scale: 1, offset: 0 };
}

/**
 * The floor of each column faultline does not know, in its unit: 1 % of its training range, the dataset
 * scaler's scale (1 % of the scaled range where no scaler is known).
 */
export function unknownFloors(features: readonly string[], scaler: Affine | null): number[] {
  return features.map((name) => UNKNOWN_FLOOR_SCALED * affineOf(name, scaler).scale);
}

/**
 * Columns in their unit (named by `features`) as the detector reads them: faultline's own series with the
 * localiser's symptom directions and floors (client-side p95s without the services' common part; a p95 of 0,
 * no completed call, not measured), every other column two-sided with its `unknownFloor` (1 % of its
 * training range). The columns of `cols` are not modified.
 */
export function zSeriesOfColumns(
  cols: ReadonlyMap<string, ArrayLike<number>>,
  features: readonly string[],
  unknownFloor: readonly number[],
): ZSeries[] {
  const opts = DEFAULT_SYMPTOM_WALK;
  const mine = new Map<string, ArrayLike<number>>();
  for (const name of features) {
    const src = cols.get(name);
    if (!src) throw new Error(`trailing robust z: no column ${name}`);
    // a p95 of 0 is no completed call: missing, before the common part is taken out (which keeps NaN); only
    // those columns are copied, the others are read as they are
    const o = seriesOwner(name);
    mine.set(
      name,
      o && SYMPTOMS[o.metric]?.zeroIsMissing ? Float64Array.from(src, (v) => (v > 0 ? v : Number.NaN)) : src,
    );
  }
  const cm = removeCommonMode(mine, opts.commonMode);
  return features.map((name, j) => {
    const o = seriesOwner(name);
    const sym = o ? symptomOf(o.metric, opts) : undefined;
    const x = cm.get(name)!;
    if (sym) return { x, dir: sym.dir, floor: sym.floor };
    return { x, dir: 0 as const, floor: unknownFloor[j]! };
  });
}
