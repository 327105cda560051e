/**
 * Score ensembles: each detector's scores are normalised against its own scores on the (normal)
 * validation split, so the test set never calibrates itself, then averaged.
 */

export type NormaliseMethod = 'z' | 'rank' | 'robust';

/** z-score against reference mean/std (std floored so a constant reference cannot divide by 0). */
export function zNormalise(scores: ArrayLike<number>, reference: ArrayLike<number>): Float64Array {
  let mean = 0;
  for (let i = 0; i < reference.length; i++) mean += reference[i]!;
  mean /= Math.max(1, reference.length);
  let v = 0;
  for (let i = 0; i < reference.length; i++) v += (reference[i]! - mean) ** 2;
  const std = Math.max(Math.sqrt(v / Math.max(1, reference.length - 1)), 1e-12);
  return Float64Array.from(scores, (s) => (s - mean) / std);
}

/**
 * Rank normalisation: the mid-rank empirical CDF of the reference at each score (ties count ½), so
 * values are in [0, 1] and comparable across detectors.
 */
export function rankNormalise(scores: ArrayLike<number>, reference: ArrayLike<number>): Float64Array {
  const ref = Float64Array.from(reference).sort();
  const m = ref.length;
  const lower = (x: number): number => {
    let lo = 0;
    let hi = m;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ref[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const upper = (x: number): number => {
    let lo = 0;
    let hi = m;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ref[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return Float64Array.from(scores, (s) => (m === 0 ? 0.5 : (lower(s) + upper(s)) / 2 / m));
}

/**
 * Robust scaling: (s − median(ref)) / (q99(ref) − median(ref)). Unlike z (a constant normal reference
 * gives a floored std and one member drowns the others) and rank (every score above the reference's
 * maximum becomes 1, so the members' strongest alarms tie), it keeps the ordering beyond the reference
 * and gives each member the same scale. Where q99 equals the median (more than 99 % of the reference
 * tied), the scale falls back to max − median, then median − min; a constant reference keeps scale 1.
 */
export function robustNormalise(scores: ArrayLike<number>, reference: ArrayLike<number>): Float64Array {
  const ref = Float64Array.from(reference).sort();
  const m = ref.length;
  if (m === 0) return Float64Array.from(scores);
  const q = (p: number): number => {
    const pos = p * (m - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(m - 1, lo + 1);
    return ref[lo]! + (ref[hi]! - ref[lo]!) * (pos - lo);
  };
  const med = q(0.5);
  const scale = [q(0.99) - med, ref[m - 1]! - med, med - ref[0]!].find((s) => s > 0) ?? 1;
  return Float64Array.from(scores, (s) => (s - med) / scale);
}

/** Average of the normalised scores of several detectors (same windows, same order). */
export function ensembleScores(
  detectors: { scores: ArrayLike<number>; reference: ArrayLike<number> }[],
  method: NormaliseMethod,
): Float64Array {
  const first = detectors[0];
  if (!first) throw new Error('ensemble of no detectors');
  const out = new Float64Array(first.scores.length);
  for (const d of detectors) {
    if (d.scores.length !== out.length) throw new Error('ensemble members score different windows');
    const z =
      method === 'z'
        ? zNormalise(d.scores, d.reference)
        : method === 'rank'
          ? rankNormalise(d.scores, d.reference)
          : robustNormalise(d.scores, d.reference);
    for (let i = 0; i < out.length; i++) out[i]! += z[i]! / detectors.length;
  }
  return out;
}
