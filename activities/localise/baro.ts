/**
 * BARO's RobustScorer (Pham et al., FSE 2024), as the paper states it: for each series, the median
 * and inter-quartile range of the normal period before the anomaly onset; its score is the maximum
 * over t ≥ onset of |x_t − median| / IQR. And RCAEval's variant (its baro implementation): series
 * constant before the onset are dropped, and the score is the signed maximum of scikit-learn
 * RobustScaler z-scores (x − median) / IQR, fitted on the normal period.
 */

export type BaroVariant = 'paper' | 'rcaeval';

/** Quantile by linear interpolation between order statistics (numpy's default, as RobustScaler). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

/**
 * The score of one series: `normal` = indices [normalFrom, onset), `anomalous` = [onset, end).
 * Returns NaN when the series is dropped (constant before the onset, both variants) or either period
 * is empty. An IQR of 0 on a series that is not constant (paper variant: a mostly-flat series with
 * rare blips, e.g. a quiet service's p95 latency) falls back to the normal period's standard
 * deviation: dividing by a vanishing IQR let any blip outrank the target's own series (a first
 * reduced benchmark run, bench/results/localisation-reduced.json, saw latency blips win). RCAEval
 * replaces a zero scale by 1, as scikit-learn's RobustScaler does.
 */
export function robustScore(
  x: ArrayLike<number>,
  normalFrom: number,
  onset: number,
  end: number,
  variant: BaroVariant,
): number {
  if (onset <= normalFrom || end <= onset) return Number.NaN;
  const normal = Float64Array.from({ length: onset - normalFrom }, (_, i) => x[normalFrom + i] as number).filter((v) =>
    Number.isFinite(v),
  );
  if (normal.length === 0) return Number.NaN;
  normal.sort();
  const median = quantile(normal, 0.5);
  let iqr = quantile(normal, 0.75) - quantile(normal, 0.25);
  if ((normal[normal.length - 1] as number) === (normal[0] as number)) return Number.NaN;
  if (iqr === 0) {
    if (variant === 'rcaeval') iqr = 1;
    else {
      let mean = 0;
      for (const v of normal) mean += v / normal.length;
      let ss = 0;
      for (const v of normal) ss += (v - mean) * (v - mean);
      iqr = Math.sqrt(ss / normal.length);
    }
  }
  let best = Number.NEGATIVE_INFINITY;
  for (let t = onset; t < end; t++) {
    const v = x[t] as number;
    if (!Number.isFinite(v)) continue;
    const z = variant === 'paper' ? Math.abs(v - median) / iqr : (v - median) / iqr;
    if (z > best) best = z;
  }
  return best === Number.NEGATIVE_INFINITY ? Number.NaN : best;
}

/** Every per-service series' BARO score (node-level columns are the caller's to leave out). */
export function baroScores(
  cols: ReadonlyMap<string, ArrayLike<number>>,
  normalFrom: number,
  onset: number,
  end: number,
  variant: BaroVariant,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, x] of cols) out.set(name, robustScore(x, normalFrom, onset, end, variant));
  return out;
}
