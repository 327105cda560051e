import { DATASET_ERRORS, DatasetError } from './errors';

/** A contiguous run of points [from, to) from one phase; gaps are never filled across segments. */
export interface Segment {
  name: string;
  from: number;
  to: number;
}

export interface DroppedSeries {
  name: string;
  reason: 'empty' | 'constant' | 'long-gap';
  detail: string;
}

export interface FilledSeries {
  name: string;
  /** Gaps filled (runs of missing points) and points filled in them. */
  gaps: number;
  points: number;
  /** Of those, points at a phase edge, filled with the nearest observed value (no second neighbour to interpolate). */
  edgePoints: number;
}

export interface CleanReport {
  dropped: DroppedSeries[];
  filled: FilledSeries[];
  maxGapPoints: number;
}

interface LongGap {
  from: number;
  to: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Cleans columns in place: drops empty and constant series, fills gaps of at most `maxGapPoints`
 * points (interior: linear interpolation between the neighbours; at a phase edge: the nearest
 * observed value), and fails — naming every series and time range — where a longer gap would leave
 * NaN (or drops such series when `onLongGap` is 'drop-series'). Non-finite values count as missing.
 */
export function cleanColumns(
  ts: Float64Array,
  names: string[],
  cols: Map<string, Float64Array>,
  segments: Segment[],
  maxGapPoints: number,
  onLongGap: 'fail' | 'drop-series' = 'fail',
): { names: string[]; report: CleanReport } {
  const report: CleanReport = { dropped: [], filled: [], maxGapPoints };
  const kept: string[] = [];
  const failures: string[] = [];
  for (const name of names) {
    const v = cols.get(name);
    if (!v) throw new DatasetError(`series ${name} is missing from the table`, DATASET_ERRORS.invalidInput);
    // One pass: range of the finite values and every maximal run [a, b) of missing ones.
    const runs: number[] = [];
    let missing = 0;
    let min = Infinity;
    let max = -Infinity;
    const n = v.length;
    for (let i = 0; i < n; i++) {
      const x = v[i] as number;
      if (x - x === 0) {
        // finite
        if (x < min) min = x;
        if (x > max) max = x;
        continue;
      }
      let j = i + 1;
      while (j < n && !((v[j] as number) - (v[j] as number) === 0)) j++;
      runs.push(i, j);
      missing += j - i;
      i = j - 1;
    }
    if (missing === n) {
      report.dropped.push({ name, reason: 'empty', detail: `no sample in ${v.length} points` });
      cols.delete(name);
      continue;
    }
    if (min === max) {
      report.dropped.push({ name, reason: 'constant', detail: `always ${min}` });
      cols.delete(name);
      continue;
    }
    if (missing === 0) {
      kept.push(name);
      continue;
    }
    // Long gaps first, without touching the data, so a dropped or failing series stays as read.
    const long: LongGap[] = [];
    for (const seg of segments)
      forEachGap(runs, seg, (a, b, whole) => void ((whole || b - a > maxGapPoints) && long.push({ from: a, to: b })));
    if (long.length) {
      const ranges = long
        .slice(0, 5)
        .map(
          (g) =>
            `${iso(ts[g.from] as number)} .. ${iso(ts[g.to - 1] as number)} (${g.to - g.from} points, ${ts[g.from]}..${ts[g.to - 1]} ms)`,
        );
      const more = long.length > 5 ? ` and ${long.length - 5} more` : '';
      if (onLongGap === 'drop-series') {
        report.dropped.push({
          name,
          reason: 'long-gap',
          detail: `${long.length} gap(s) over ${maxGapPoints} points: ${ranges.join('; ')}${more}`,
        });
        cols.delete(name);
        continue;
      }
      failures.push(`  - ${name}: ${ranges.join('; ')}${more}`);
      continue;
    }
    const fill: FilledSeries = { name, gaps: 0, points: 0, edgePoints: 0 };
    for (const seg of segments) {
      forEachGap(runs, seg, (a, b) => {
        fill.gaps++;
        fill.points += b - a;
        if (a === seg.from || b === seg.to) {
          // Edge gap: only one neighbour exists inside the phase.
          const src = a === seg.from ? b : a - 1;
          const value = v[src] as number;
          for (let i = a; i < b; i++) v[i] = value;
          fill.edgePoints += b - a;
        } else {
          const t0 = ts[a - 1] as number;
          const y0 = v[a - 1] as number;
          const slope = ((v[b] as number) - y0) / ((ts[b] as number) - t0);
          for (let i = a; i < b; i++) v[i] = y0 + slope * ((ts[i] as number) - t0);
        }
      });
    }
    report.filled.push(fill);
    kept.push(name);
  }
  if (failures.length) {
    throw new DatasetError(
      `NaN would remain after cleaning: ${failures.length} series have gaps longer than maxGapFill ` +
        `(${maxGapPoints} points); raise dataset.maxGapFill, set dataset.onLongGap: drop-series, or fix the feature:\n` +
        failures.join('\n'),
      DATASET_ERRORS.nanRemains,
    );
  }
  return { names: kept, report };
}

/**
 * Calls fn(a, b) for every maximal run [a, b) of missing values inside the segment, from the
 * column's runs (pairs [start, end), ascending); a fully empty segment is one run.
 */
function forEachGap(runs: number[], seg: Segment, fn: (a: number, b: number, whole: boolean) => void): void {
  // First run ending after the segment's start.
  let lo = 0;
  let hi = runs.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((runs[2 * mid + 1] as number) <= seg.from) lo = mid + 1;
    else hi = mid;
  }
  for (let r = lo; r < runs.length / 2; r++) {
    const a = Math.max(runs[2 * r] as number, seg.from);
    const b = Math.min(runs[2 * r + 1] as number, seg.to);
    if (a >= seg.to) break;
    // A phase with no sample at all has no neighbour to fill from: always a long gap.
    if (b > a) fn(a, b, a === seg.from && b === seg.to);
  }
}
