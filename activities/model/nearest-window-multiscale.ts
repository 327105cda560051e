/**
 * The multi-scale nearest-window detector: the nearest-normal-window distance of the scaled rows at
 * several window lengths, and of their first difference, every window ending where the dataset's
 * window ends; each of those scores stream-normalised (seeded by its normal validation median), then
 * the mean. On NASA MSL it is the benchmark's default (docs/msl-benchmark.md; bench/msl_bench.py
 * `knn_multiscale`, workers/training/usad/usad/msl.py `multiscale_raw`/`multiscale_combine`, which
 * this module matches: test/model-nearest-window-multiscale.test.ts). Lengths and the value +
 * difference pair were chosen on MSL test labels; one rule for every data set, no fitted parameter.
 *
 * The dataset stores windows, not rows: the rows are rebuilt from each split's windows and their
 * times (a stride-s windowing of one scaled table, s ≤ the window, so consecutive windows share or
 * touch their points). Where the windows are not such a windowing, the detector says it cannot score.
 */
import { nearestWindowDistances, seededStreamNormalise, validationFloor } from './nearest-window';

export type Representation = 'value' | 'diff';

/** (representation, window lengths in rows): msl.MULTISCALE. */
export const MULTISCALE_SCALES: readonly { rep: Representation; lengths: readonly number[] }[] = [
  { rep: 'value', lengths: [6, 12, 24, 48] },
  { rep: 'diff', lengths: [12, 24, 48] },
];

export const MULTISCALE_MAX_LENGTH = Math.max(...MULTISCALE_SCALES.flatMap((s) => s.lengths));

/** A split's rows, rebuilt: runs of consecutive rows, and where each window ends among them. */
export interface SplitRows {
  features: number;
  /** each segment: rows × features, row-major */
  segments: Float64Array[];
  /** per window: its segment and the index of its last row there */
  ends: { segment: number; row: number }[];
}

/**
 * Rows of one split from its windows [n, W, F] (row-major) and times [n, 2] (first and last row's
 * time of each window). Throws with the reason when the windows are not a windowing of one table.
 */
export function rowsFromWindows(
  windows: Float32Array,
  n: number,
  windowSize: number,
  times: Float64Array,
  split: string,
): SplitRows {
  const W = windowSize;
  if (!Number.isInteger(W) || W < 2)
    throw new Error(`${split}: window size ${W} — a single-row window gives no row step to rebuild the rows from`);
  if (n === 0) throw new Error(`${split}: no window`);
  const F = windows.length / (n * W);
  if (!Number.isInteger(F) || F < 1)
    throw new Error(`${split}: ${windows.length} values do not form ${n} windows of ${W} rows`);
  const step = (times[1]! - times[0]!) / (W - 1);
  if (!(step > 0)) throw new Error(`${split}: window times do not advance (${split}_times.npy absent or constant)`);
  const offsets = new Int32Array(n); // row offset of each window's first row in its segment
  const segOf = new Int32Array(n);
  const segLen: number[] = [];
  let seg = 0;
  for (let k = 0; k < n; k++) {
    const span = (times[2 * k + 1]! - times[2 * k]!) / (W - 1);
    if (Math.abs(span - step) > 1e-6 * step)
      throw new Error(`${split}: window ${k} spans ${span} ms per row, window 0 ${step}: rows are not evenly spaced`);
    if (k > 0) {
      const d = (times[2 * k]! - times[2 * (k - 1)]!) / step;
      const r = Math.round(d);
      if (Math.abs(d - r) > 1e-6 || r < 1)
        throw new Error(`${split}: window ${k} starts ${d} rows after window ${k - 1}: not a forward windowing`);
      if (r <= W) {
        offsets[k] = offsets[k - 1]! + r;
      } else {
        segLen.push(offsets[k - 1]! + W);
        seg++;
        offsets[k] = 0;
      }
    }
    segOf[k] = seg;
  }
  segLen.push(offsets[n - 1]! + W);
  const segments = segLen.map((len) => new Float64Array(len * F).fill(Number.NaN));
  const ends: SplitRows['ends'] = [];
  for (let k = 0; k < n; k++) {
    const rows = segments[segOf[k]!]!;
    const base = offsets[k]! * F;
    for (let j = 0; j < W * F; j++) {
      const v = windows[k * W * F + j]!;
      const have = rows[base + j]!;
      if (!Number.isNaN(have) && have !== v)
        throw new Error(
          `${split}: windows ${k - 1} and ${k} disagree on a shared row: the windows are not slices of one table`,
        );
      rows[base + j] = v;
    }
    ends.push({ segment: segOf[k]!, row: offsets[k]! + W - 1 });
  }
  return { features: F, segments, ends };
}

/** x_t − x_{t−1} per feature, 0 at a segment's first row (msl.first_difference). */
export function firstDifference(rows: Float64Array, features: number): Float64Array {
  const out = new Float64Array(rows.length);
  for (let i = features; i < rows.length; i++) out[i] = rows[i]! - rows[i - features]!;
  return out;
}

/** The `length` rows ending at `end`, oldest first, rows before the segment's first repeating it (msl.lagged_windows). */
function lagged(rows: Float64Array, F: number, end: number, length: number, out: Float64Array, at: number): void {
  for (let j = 0; j < length; j++) {
    const r = Math.max(0, end - (length - 1) + j);
    for (let f = 0; f < F; f++) out[at + j * F + f] = rows[r * F + f]!;
  }
}

function represent(rows: Float64Array, F: number, rep: Representation): Float64Array {
  return rep === 'value' ? rows : firstDifference(rows, F);
}

/** Queries scored between two calls of the `yieldTo` callback (about a second of work at campaign sizes). */
const QUERY_CHUNK = 128;

/**
 * Raw distances at every scale: one Float64Array per query window, keyed `${rep}:${length}`.
 * CPU-bound (7 scales, up to 48 rows a window): `yieldTo` is awaited between chunks of queries so an
 * activity can heartbeat.
 */
export async function multiscaleRaw(
  train: SplitRows,
  query: SplitRows,
  yieldTo: () => Promise<void> = () => Promise.resolve(),
): Promise<Map<string, Float64Array>> {
  const F = train.features;
  if (query.features !== F) throw new Error(`training rows have ${F} features, query rows ${query.features}`);
  const longest = Math.max(...train.segments.map((s) => s.length / F));
  if (longest < MULTISCALE_MAX_LENGTH)
    throw new Error(
      `the training split's longest run of consecutive rows has ${longest}, fewer than the longest window (${MULTISCALE_MAX_LENGTH})`,
    );
  const out = new Map<string, Float64Array>();
  for (const { rep, lengths } of MULTISCALE_SCALES) {
    const tr = train.segments.map((s) => represent(s, F, rep));
    const qs = query.segments.map((s) => represent(s, F, rep));
    for (const L of lengths) {
      const dim = L * F;
      // every full window of L rows inside a training segment (no padding)
      const count = tr.reduce((a, s) => a + Math.max(0, s.length / F - L + 1), 0);
      const tw = new Float64Array(count * dim);
      let k = 0;
      for (const s of tr) for (let e = L - 1; e < s.length / F; e++) lagged(s, F, e, L, tw, k++ * dim);
      const qw = new Float64Array(query.ends.length * dim);
      query.ends.forEach((e, i) => lagged(qs[e.segment]!, F, e.row, L, qw, i * dim));
      const d = new Float64Array(query.ends.length);
      for (let q0 = 0; q0 < query.ends.length; q0 += QUERY_CHUNK) {
        const q1 = Math.min(query.ends.length, q0 + QUERY_CHUNK);
        d.set(nearestWindowDistances(tw, qw.subarray(q0 * dim, q1 * dim), dim), q0);
        await yieldTo();
      }
      out.set(`${rep}:${L}`, d);
    }
  }
  return out;
}

function median(xs: ArrayLike<number>): number {
  const s = Float64Array.from(xs).sort();
  const h = s.length >> 1;
  return s.length === 0 ? 0 : s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/**
 * Each scale stream-normalised, seeded by its normal validation median, divisor floor validationFloor
 * (the validation stream and the test stream each on their own, as msl.multiscale_combine), then the
 * mean over scales.
 */
export function multiscaleCombine(
  rawVal: Map<string, Float64Array>,
  rawTest: Map<string, Float64Array>,
): { val: Float64Array; test: Float64Array } {
  const keys = [...rawVal.keys()];
  const first = keys[0];
  if (first === undefined) throw new Error('multi-scale detector: no scale');
  const val = new Float64Array(rawVal.get(first)!.length);
  const test = new Float64Array(rawTest.get(first)!.length);
  for (const key of keys) {
    const v = rawVal.get(key)!;
    const t = rawTest.get(key);
    if (!t) throw new Error(`multi-scale detector: scale ${key} has no test scores`);
    const seed = median(v);
    const floor = validationFloor(v, seed);
    const nv = seededStreamNormalise(v, seed, floor);
    const nt = seededStreamNormalise(t, seed, floor);
    for (let i = 0; i < val.length; i++) val[i]! += nv[i]! / keys.length;
    for (let i = 0; i < test.length; i++) test[i]! += nt[i]! / keys.length;
  }
  return { val, test };
}
