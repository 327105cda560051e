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
  let points = 0;
  for (let i = from; i < to; i++) if (isAnomaly[i] === 0) points++;
  if (points === 0) throw new Error('no normal training point to fit the scaler on');
  for (const name of names) {
    const v = cols.get(name) as Float64Array;
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (let i = from; i < to; i++) {
      if (isAnomaly[i] !== 0) continue;
      const x = v[i] as number;
      if (x < min) min = x;
      if (x > max) max = x;
      sum += x;
    }
    const mean = sum / points;
    let ss = 0;
    for (let i = from; i < to; i++) {
      if (isAnomaly[i] !== 0) continue;
      const d = (v[i] as number) - mean;
      ss += d * d;
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

/** Applies the scaler into a row-major float32 matrix [n, F] (a window is then one contiguous slice). */
export function scaleRowMajor(params: ScalerParams, cols: Map<string, Float64Array>, n: number): Float32Array {
  const F = params.features.length;
  const out = new Float32Array(n * F);
  for (let f = 0; f < F; f++) {
    const v = cols.get(params.features[f] as string) as Float64Array;
    const off = params.offset[f] as number;
    const inv = 1 / (params.scale[f] as number);
    if (params.clip) {
      const [lo, hi] = params.clip;
      for (let i = 0, k = f; i < n; i++, k += F) {
        const x = ((v[i] as number) - off) * inv;
        out[k] = x < lo ? lo : x > hi ? hi : x;
      }
    } else {
      for (let i = 0, k = f; i < n; i++, k += F) out[k] = ((v[i] as number) - off) * inv;
    }
  }
  return out;
}
