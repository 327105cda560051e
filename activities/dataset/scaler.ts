/**
 * One scaler for the whole dataset: x' = (x − offset) / scale, fit on the normal points of the
 * training split only and applied unchanged to every split. A feature constant on the training data
 * gets scale 1 (so it is shifted, not divided by zero).
 *
 * Scaled values are clipped to `clipRange()` (dataset.clip; null turns it off). Leaving the training
 * range is what the detector must see, and a clipped value still sits far outside it; but unbounded,
 * one feature that barely moved during a short baseline (the p95 latency of a quiet service) turns
 * ordinary noise into values of 100+ whose squared error drowns every other feature. On the e2e
 * campaigns' datasets, ROC-AUC was 0.26–0.40 unclipped and 0.73–0.78 with clip 1.
 */
export interface ScalerParams {
  kind: 'minmax' | 'standard';
  features: string[];
  offset: number[];
  scale: number[];
  /** minmax: min/max; standard: mean/std (population, like sklearn StandardScaler). */
  stats: Record<string, { min: number; max: number; mean: number; std: number }>;
  /** The points the scaler was fit on. */
  fit: { points: number; fromMs: number; toMs: number };
  /** Scaled values are clipped to [lo, hi]; absent = not clipped. */
  clip?: [number, number];
}

/** min-max: the training range is [0, 1], clip to [−c, 1 + c]; standard: clip to ±3·(1 + c). */
export function clipRange(kind: 'minmax' | 'standard', clip: number | null): [number, number] | undefined {
  if (clip === null) return undefined;
  return kind === 'minmax' ? [-clip, 1 + clip] : [-3 * (1 + clip), 3 * (1 + clip)];
}

/** Maximal runs [a, b) of normal points (isAnomaly 0) inside [from, to), as pairs. */
function normalRuns(isAnomaly: Uint8Array, from: number, to: number): number[] {
  const runs: number[] = [];
  let i = from;
  while (i < to) {
    while (i < to && isAnomaly[i] !== 0) i++;
    const a = i;
    while (i < to && isAnomaly[i] === 0) i++;
    if (i > a) runs.push(a, i);
  }
  return runs;
}

/** Fits on points i in [from, to) with isAnomaly[i] === 0. */
export function fitScaler(
  kind: 'minmax' | 'standard',
  names: string[],
  cols: Map<string, Float64Array>,
  ts: Float64Array,
  isAnomaly: Uint8Array,
  from: number,
  to: number,
): ScalerParams {
  const offset: number[] = [];
  const scale: number[] = [];
  const stats: ScalerParams['stats'] = {};
  // The normal stretches once, so the passes below are branch-free loops over plain ranges
  // (same points, same order: same sums as a point-by-point loop).
  const runs = normalRuns(isAnomaly, from, to);
  let points = 0;
  for (let r = 0; r < runs.length; r += 2) points += (runs[r + 1] as number) - (runs[r] as number);
  if (points === 0) throw new Error('no normal training point to fit the scaler on');
  for (const name of names) {
    const v = cols.get(name) as Float64Array;
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (let r = 0; r < runs.length; r += 2) {
      for (let i = runs[r] as number, b = runs[r + 1] as number; i < b; i++) {
        const x = v[i] as number;
        if (x < min) min = x;
        if (x > max) max = x;
        sum += x;
      }
    }
    const mean = sum / points;
    let ss = 0;
    for (let r = 0; r < runs.length; r += 2) {
      for (let i = runs[r] as number, b = runs[r + 1] as number; i < b; i++) {
        const d = (v[i] as number) - mean;
        ss += d * d;
      }
    }
    const std = Math.sqrt(ss / points);
    stats[name] = { min, max, mean, std };
    if (kind === 'minmax') {
      offset.push(min);
      scale.push(max - min > 0 ? max - min : 1);
    } else {
      offset.push(mean);
      scale.push(std > 0 ? std : 1);
    }
  }
  return {
    kind,
    features: [...names],
    offset,
    scale,
    stats,
    fit: { points, fromMs: ts[from] ?? NaN, toMs: ts[to - 1] ?? NaN },
  };
}

/** Rows per block of scaleRowMajor: a block of the output stays in cache while every column fills it. */
const SCALE_BLOCK = 512;

/**
 * Applies the scaler into a row-major float32 matrix [n, F] (a window is then one contiguous slice),
 * on shared memory (threads can read it in place). Written block by block of rows, so the strided
 * stores of each column land in cache instead of sweeping the whole matrix once per feature.
 */
export function scaleRowMajor(params: ScalerParams, cols: Map<string, Float64Array>, n: number): Float32Array {
  const F = params.features.length;
  const out = new Float32Array(new SharedArrayBuffer(n * F * Float32Array.BYTES_PER_ELEMENT));
  const vs = params.features.map((name) => cols.get(name) as Float64Array);
  const [lo, hi] = params.clip ?? [-Infinity, Infinity];
  for (let b0 = 0; b0 < n; b0 += SCALE_BLOCK) {
    const b1 = Math.min(n, b0 + SCALE_BLOCK);
    for (let f = 0; f < F; f++) {
      const v = vs[f] as Float64Array;
      const off = params.offset[f] as number;
      const inv = 1 / (params.scale[f] as number);
      for (let i = b0, k = b0 * F + f; i < b1; i++, k += F) {
        const x = ((v[i] as number) - off) * inv;
        out[k] = x < lo ? lo : x > hi ? hi : x;
      }
    }
  }
  return out;
}
