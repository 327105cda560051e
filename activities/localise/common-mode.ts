import { seriesOwner } from './series';

/**
 * The host's common part of a latency series, removed: at each point, each service's value minus the median
 * of every service's measured value of the same metric at that point.
 *
 * Why: a service's latency as its callers see it (`client_p95`) includes the callers' own wait for a CPU. On a
 * shared host a load spike lifts every service's client-side p95 together, and by more than a 300 ms delay on
 * one of them: the delayed service's rise is then measured against a spread the whole host made (on the
 * development campaigns most delays ranked below a noisy bystander). A fault in front of one service moves its
 * own series away from the others'; a host-wide squeeze moves them all, and the median takes it out.
 * Unmeasured points (a p95 of 0: no call completed) stay missing (NaN) and do not enter the median.
 */
export function removeCommonMode<T extends ArrayLike<number>>(
  cols: ReadonlyMap<string, T>,
  metrics: readonly string[],
): Map<string, T | Float64Array> {
  const out = new Map<string, T | Float64Array>(cols);
  for (const metric of metrics) {
    const names = [...cols.keys()].filter((c) => seriesOwner(c)?.metric === metric);
    // one service has no "others": nothing to remove
    if (names.length < 2) continue;
    const src = names.map((c) => cols.get(c)!);
    const n = Math.min(...src.map((x) => x.length));
    const dst = names.map(() => new Float64Array(n).fill(Number.NaN));
    const measured: number[] = [];
    for (let t = 0; t < n; t++) {
      measured.length = 0;
      for (const x of src) {
        const v = x[t] as number;
        if (Number.isFinite(v) && v > 0) measured.push(v);
      }
      if (measured.length === 0) continue;
      measured.sort((a, b) => a - b);
      const h = measured.length >> 1;
      const median = measured.length % 2 ? measured[h]! : (measured[h - 1]! + measured[h]!) / 2;
      for (let i = 0; i < src.length; i++) {
        const v = src[i]![t] as number;
        if (Number.isFinite(v) && v > 0) dst[i]![t] = v - median;
      }
    }
    names.forEach((c, i) => out.set(c, dst[i]!));
  }
  return out;
}
