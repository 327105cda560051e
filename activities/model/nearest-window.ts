/**
 * The nearest-normal-window detector: each window's score is its Euclidean distance to the nearest
 * training (normal) window — the non-learned baseline that window-reconstruction models are measured
 * against (docs/msl-benchmark.md; bench/msl_bench.py `nearest_normal_distance` computes the same
 * with torch.cdist). Then, optionally, causal stream normalisation (bench/msl_stream_norm.py): each
 * score divided by the median of the scores its stream produced before it, label-free and online.
 */

/**
 * Exact distance of each row of `queries` to its nearest row of `train` (both row-major [·, dim]).
 * Exact but pruned: the squared distance to a candidate is accumulated dimension by dimension and
 * abandoned once it exceeds the best so far, and each query starts from the previous query's nearest
 * window (consecutive windows of a stride-1 series overlap, so that candidate is usually close).
 */
export function nearestWindowDistances(
  train: Float32Array | Float64Array,
  queries: Float32Array | Float64Array,
  dim: number,
): Float64Array {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`window dimension ${dim} is not a positive integer`);
  if (train.length % dim !== 0 || queries.length % dim !== 0)
    throw new Error(`window data lengths ${train.length}, ${queries.length} are not multiples of ${dim}`);
  const m = train.length / dim;
  const n = queries.length / dim;
  if (m === 0) throw new Error('nearest-window detector: the training split has no window');
  const out = new Float64Array(n);
  let hint = 0;
  for (let q = 0; q < n; q++) {
    const qo = q * dim;
    const dist2 = (t: number, bound: number): number => {
      const to = t * dim;
      let acc = 0;
      for (let j = 0; j < dim; j++) {
        const d = queries[qo + j]! - train[to + j]!;
        acc += d * d;
        if (acc > bound) return acc;
      }
      return acc;
    };
    let best = dist2(hint, Number.POSITIVE_INFINITY);
    let bestIdx = hint;
    for (let t = 0; t < m; t++) {
      if (t === hint) continue;
      const d = dist2(t, best);
      if (d < best) {
        best = d;
        bestIdx = t;
      }
    }
    hint = bestIdx;
    out[q] = Math.sqrt(best);
  }
  return out;
}

/** Windows before a stream has this many earlier scores share the median of its first ones (as the bench). */
export const STREAM_MIN_HISTORY = 20;
/** Added to the median so a stream whose scores are mostly 0 does not divide by 0 (as the bench). */
export const STREAM_EPSILON = 1e-6;

/**
 * Causal stream normalisation: score_t / (median(score_0 … score_{t−1}) + ε), with `history` (scores the
 * same stream produced before `scores`, oldest first) counted as earlier scores. While fewer than
 * STREAM_MIN_HISTORY earlier scores exist, the divisor is the median of the stream's first
 * STREAM_MIN_HISTORY scores (bench/msl_stream_norm.py: the warm-up is the one place it looks ahead, and
 * only within those first windows; with a history of that length it never does).
 * A running median over all earlier scores (two heaps): O(n log n).
 */
export function causalStreamNormalise(scores: ArrayLike<number>, history: ArrayLike<number> = []): Float64Array {
  const lower = new Heap((a, b) => a > b); // max-heap: the smaller half
  const upper = new Heap((a, b) => a < b); // min-heap: the larger half
  const push = (v: number): void => {
    if (lower.size === 0 || v <= lower.peek()) lower.push(v);
    else upper.push(v);
    if (lower.size > upper.size + 1) upper.push(lower.pop());
    else if (upper.size > lower.size) lower.push(upper.pop());
  };
  const median = (): number => (lower.size > upper.size ? lower.peek() : (lower.peek() + upper.peek()) / 2);
  const all = [...Array.from(history), ...Array.from(scores)];
  const warm = all.slice(0, STREAM_MIN_HISTORY).sort((a, b) => a - b);
  const warmMedian =
    warm.length === 0
      ? 0
      : warm.length % 2
        ? warm[(warm.length - 1) / 2]!
        : (warm[warm.length / 2 - 1]! + warm[warm.length / 2]!) / 2;
  for (let i = 0; i < history.length; i++) push(history[i]!);
  const out = new Float64Array(scores.length);
  for (let i = 0; i < scores.length; i++) {
    const earlier = history.length + i;
    const m = earlier >= STREAM_MIN_HISTORY ? median() : warmMedian;
    out[i] = scores[i]! / (m + STREAM_EPSILON);
    push(scores[i]!);
  }
  return out;
}

/**
 * Causal stream normalisation seeded from outside the stream (bench msl.stream_normalise): score_t /
 * (median(score_0 … score_{t−1}) + ε), where the first STREAM_MIN_HISTORY windows are divided by
 * `seedMedian` instead (the median of the detector's normal validation scores). Never looks ahead.
 * The divisor is never below `floor` (validationFloor; 0 = the plain rule).
 */
export function seededStreamNormalise(scores: ArrayLike<number>, seedMedian: number, floor = 0): Float64Array {
  const med = new RunningMedian();
  const out = new Float64Array(scores.length);
  for (let i = 0; i < scores.length; i++) {
    const m = i >= STREAM_MIN_HISTORY ? med.value() : seedMedian;
    out[i] = scores[i]! / (Math.max(m, floor) + STREAM_EPSILON);
    med.push(scores[i]!);
  }
  return out;
}

/**
 * The divisor floor of seededStreamNormalise from a detector's normal validation scores
 * (msl.validation_floor): their mean. The divisor is max(the stream's running median, this floor), so a
 * stream quieter than normal validation keeps the validation scale instead of dividing by a level near 0:
 * quantised series repeat training rows, their nearest-window distances are exactly 0 for long stretches,
 * and a ratio to that running median (ε alone) made the validation quantile threshold unreachable. One
 * rule for every series and scale; chosen on MSL (docs/msl-benchmark.md). 0 for no validation scores.
 */
export function validationFloor(val: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < val.length; i++) sum += val[i]!;
  return val.length ? sum / val.length : 0;
}

/** Median of every value pushed so far: two heaps, O(log n) a push. */
class RunningMedian {
  private readonly lower = new Heap((a, b) => a > b); // max-heap: the smaller half
  private readonly upper = new Heap((a, b) => a < b); // min-heap: the larger half
  push(v: number): void {
    if (this.lower.size === 0 || v <= this.lower.peek()) this.lower.push(v);
    else this.upper.push(v);
    if (this.lower.size > this.upper.size + 1) this.upper.push(this.lower.pop());
    else if (this.upper.size > this.lower.size) this.lower.push(this.upper.pop());
  }
  value(): number {
    return this.lower.size > this.upper.size ? this.lower.peek() : (this.lower.peek() + this.upper.peek()) / 2;
  }
}

class Heap {
  private readonly a: number[] = [];
  constructor(private readonly before: (x: number, y: number) => boolean) {}
  get size(): number {
    return this.a.length;
  }
  peek(): number {
    return this.a[0]!;
  }
  push(v: number): void {
    const a = this.a;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.before(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
