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
import { seededStreamNormalise, validationFloor } from './nearest-window';

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

function represent(rows: Float64Array, F: number, rep: Representation): Float64Array {
  return rep === 'value' ? rows : firstDifference(rows, F);
}

/*
 * All window lengths share the point distances. With p(i, j) = ||q_i − t_j||² (query row i, training
 * row j), the squared distance of the length-L windows ending at i and j is the sum of p along the
 * diagonal through (i, j) over its last L points, so walking each diagonal of the query × training
 * matrix once gives every length at once: O(n·m·(F + #lengths)) instead of O(n·m·F·Σ lengths), and
 * O(n + m) memory (the matrix is never stored). Sums of L points come from sums of the previous length
 * (each length a multiple of the one before, 6 → 12 → 24 → 48: S₁₂(t) = S₆(t) + S₆(t − 6)), never from
 * differences of running sums, so every sum is of non-negative terms, exact repeats stay exactly 0,
 * and the relative error is that of the old element-by-element sum (a few ulps × L·F).
 * Front padding of a query window (rows before its segment's first repeating it) is the same as
 * prepending longest − 1 copies of the segment's first row: every window is then a plain diagonal run.
 */

/** Ring buffers along a diagonal: a power of two ≥ the longest length. */
const RING = 64;
const MASK = RING - 1;
/** Work (diagonal steps × (features + 8), the per-step bookkeeping) between two calls of `yieldTo`: ~0.1 s on an idle core, well under the activity's heartbeat timeout on a loaded one. */
const YIELD_WORK = 5e7;

for (const { lengths } of MULTISCALE_SCALES)
  lengths.forEach((L, k) => {
    const prev = k === 0 ? 1 : lengths[k - 1]!;
    if (!(Number.isInteger(L) && L > prev && L % prev === 0 && L <= RING))
      throw new Error(
        `multi-scale lengths ${lengths.join(', ')}: each must be a multiple of the one before and ≤ ${RING}`,
      );
  });

/** One query segment, front-padded: its rows and, per padded row, the query window ending there (−1: none). */
interface PaddedQuery {
  rows: Float64Array;
  windowAt: Int32Array;
}

/**
 * Walks the diagonal from query row i0 and training row j0 for `len` steps, lowering
 * `best[k · windows + w]` (squared) for every query window w ending on it and every length k. `rings`
 * holds the last RING values of each level along the diagonal (level 0: point distances; level k + 1:
 * window sums at lengths[k]); only values written on this diagonal are read.
 * Walking whole diagonals one after another was measured faster than bands of diagonals in row chunks
 * (cache blocking): each step reads two rows sequentially, which the prefetcher serves, and the point
 * distance (compute-bound) dominates.
 */
function walkDiagonal(
  q: PaddedQuery,
  train: Float64Array,
  F: number,
  i0: number,
  j0: number,
  len: number,
  rings: Float64Array,
  lengths: readonly number[],
  best: Float64Array,
  windows: number,
): void {
  const Q = q.rows;
  const windowAt = q.windowAt;
  const L0 = lengths[0]!;
  const levels = lengths.length;
  for (let t = 0; t < len; t++) {
    const qa = (i0 + t) * F;
    const ta = (j0 + t) * F;
    // four partial sums: independent add chains (measured ~10–15 % faster than one)
    let p0 = 0;
    let p1 = 0;
    let p2 = 0;
    let p3 = 0;
    let f = 0;
    for (; f + 3 < F; f += 4) {
      const d0 = Q[qa + f]! - train[ta + f]!;
      const d1 = Q[qa + f + 1]! - train[ta + f + 1]!;
      const d2 = Q[qa + f + 2]! - train[ta + f + 2]!;
      const d3 = Q[qa + f + 3]! - train[ta + f + 3]!;
      p0 += d0 * d0;
      p1 += d1 * d1;
      p2 += d2 * d2;
      p3 += d3 * d3;
    }
    for (; f < F; f++) {
      const d = Q[qa + f]! - train[ta + f]!;
      p0 += d * d;
    }
    const slot = t & MASK;
    rings[slot] = p0 + p1 + (p2 + p3);
    if (t < L0 - 1) continue;
    const w = windowAt[i0 + t]!;
    let s = 0;
    for (let k = L0 - 1; k >= 0; k--) s += rings[(t - k) & MASK]!;
    rings[RING + slot] = s;
    if (w >= 0 && s < best[w]!) best[w] = s;
    for (let lv = 1; lv < levels; lv++) {
      const L = lengths[lv]!;
      if (t < L - 1) break;
      const prev = lengths[lv - 1]!;
      const base = lv * RING;
      let sl = 0;
      for (let back = L - prev; back >= 0; back -= prev) sl += rings[base + ((t - back) & MASK)]!;
      rings[base + RING + slot] = sl;
      if (w >= 0 && sl < best[lv * windows + w]!) best[lv * windows + w] = sl;
    }
  }
}

/**
 * Squared nearest-training-window distance of every query window at every length: [length k][window]
 * flattened. Training windows are the full windows inside each training segment.
 */
async function nearestAtLengths(
  train: Float64Array[],
  query: PaddedQuery[],
  F: number,
  lengths: readonly number[],
  windows: number,
  yieldTo: () => Promise<void>,
): Promise<Float64Array> {
  const best = new Float64Array(lengths.length * windows).fill(Number.POSITIVE_INFINITY);
  const rings = new Float64Array((lengths.length + 1) * RING);
  const L0 = lengths[0]!;
  let work = 0;
  for (const q of query) {
    const nq = q.rows.length / F;
    for (const tr of train) {
      const mt = tr.length / F;
      // diagonal o = i − j: from the last training row against query row 0 to the last query row against training row 0
      for (let o = -(mt - 1); o < nq; o++) {
        const i0 = Math.max(0, o);
        const j0 = i0 - o;
        const len = Math.min(nq - i0, mt - j0);
        if (len < L0) continue; // holds no window of even the shortest length
        walkDiagonal(q, tr, F, i0, j0, len, rings, lengths, best, windows);
        work += len * (F + 8);
        if (work >= YIELD_WORK) {
          work = 0;
          await yieldTo();
        }
      }
    }
  }
  return best;
}

/**
 * Raw distances at every scale: one Float64Array per query window, keyed `${rep}:${length}` (the exact
 * Euclidean distance to the nearest full training window of that length, as msl.multiscale_raw).
 * CPU-bound: `yieldTo` is awaited about once a second so an activity can heartbeat.
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
  const pad = MULTISCALE_MAX_LENGTH - 1;
  const windows = query.ends.length;
  const out = new Map<string, Float64Array>();
  for (const { rep, lengths } of MULTISCALE_SCALES) {
    const tr = train.segments.map((s) => represent(s, F, rep));
    const qs: PaddedQuery[] = query.segments.map((s) => {
      const r = represent(s, F, rep);
      const rows = new Float64Array(pad * F + r.length);
      for (let k = 0; k < pad; k++) rows.set(r.subarray(0, F), k * F);
      rows.set(r, pad * F);
      return { rows, windowAt: new Int32Array(rows.length / F).fill(-1) };
    });
    // a window ending on the same row as an earlier one (not from rowsFromWindows, but allowed) copies its score
    const sameAs = new Int32Array(windows);
    query.ends.forEach((e, w) => {
      const q = qs[e.segment];
      if (!q || !Number.isInteger(e.row) || e.row < 0 || pad + e.row >= q.windowAt.length)
        throw new Error(`query window ${w} ends at segment ${e.segment} row ${e.row}, outside the query rows`);
      const first = q.windowAt[pad + e.row]!;
      if (first < 0) q.windowAt[pad + e.row] = w;
      sameAs[w] = first < 0 ? w : first;
    });
    const best = await nearestAtLengths(tr, qs, F, lengths, windows, yieldTo);
    lengths.forEach((L, k) => {
      const b = best.subarray(k * windows, (k + 1) * windows);
      out.set(
        `${rep}:${L}`,
        b.map((_, w) => Math.sqrt(b[sameAs[w]!]!)),
      );
    });
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
    const floor = validationFloor(v);
    const nv = seededStreamNormalise(v, seed, floor);
    const nt = seededStreamNormalise(t, seed, floor);
    for (let i = 0; i < val.length; i++) val[i]! += nv[i]! / keys.length;
    for (let i = 0; i < test.length; i++) test[i]! += nt[i]! / keys.length;
  }
  return { val, test };
}
