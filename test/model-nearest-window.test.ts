import assert from 'node:assert/strict';
import {
  causalStreamNormalise,
  nearestWindowDistances,
  STREAM_EPSILON,
  STREAM_MIN_HISTORY,
} from '../activities/model/nearest-window';
import { mulberry32 } from '../activities/random';

function bruteForce(train: Float32Array, q: Float32Array, dim: number): Float64Array {
  const m = train.length / dim;
  return Float64Array.from({ length: q.length / dim }, (_, i) => {
    let best = Infinity;
    for (let t = 0; t < m; t++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += (q[i * dim + j]! - train[t * dim + j]!) ** 2;
      best = Math.min(best, s);
    }
    return Math.sqrt(best);
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

describe('nearest normal window detector', () => {
  it('is exact: equals brute force on overlapping random-walk windows, duplicates and far queries included', () => {
    const rand = mulberry32(4);
    const W = 6;
    const F = 3;
    const dim = W * F;
    // a stride-1 windowing of a random walk (the layout the dataset builds), so pruning has real work
    const series = Float32Array.from({ length: 900 * F }, () => rand() - 0.5);
    for (let i = F; i < series.length; i++) series[i]! += series[i - F]!;
    const windows = (from: number, n: number): Float32Array => {
      const out = new Float32Array(n * dim);
      for (let i = 0; i < n; i++) out.set(series.subarray((from + i) * F, (from + i + W) * F), i * dim);
      return out;
    };
    const train = windows(0, 500);
    const q = new Float32Array(300 * dim);
    q.set(windows(380, 250)); // partly identical to training windows (distance 0)
    q.set(
      Float32Array.from({ length: 50 * dim }, () => 10 + rand()),
      250 * dim,
    ); // far away
    const got = nearestWindowDistances(train, q, dim);
    const want = bruteForce(train, q, dim);
    for (let i = 0; i < want.length; i++) assert.equal(got[i], want[i], `query ${i}`);
    assert.equal(got[0], 0, 'a query equal to a training window is at distance 0');
  });

  it('refuses inconsistent shapes and an empty training split', () => {
    assert.throws(() => nearestWindowDistances(new Float32Array(6), new Float32Array(4), 3), /not multiples of 3/);
    assert.throws(() => nearestWindowDistances(new Float32Array(0), new Float32Array(3), 3), /no window/);
  });

  it('stream normalisation divides each score by the median of the scores before it (causal)', () => {
    const rand = mulberry32(9);
    const history = Array.from({ length: 7 }, () => rand());
    const s = Array.from({ length: 120 }, (_, i) => rand() * (i > 60 ? 3 : 1));
    const got = causalStreamNormalise(s, history);
    const all = [...history, ...s];
    const warm = median(all.slice(0, STREAM_MIN_HISTORY));
    for (let i = 0; i < s.length; i++) {
      const earlier = all.slice(0, history.length + i);
      const m = earlier.length >= STREAM_MIN_HISTORY ? median(earlier) : warm;
      assert.ok(Math.abs(got[i]! - s[i]! / (m + STREAM_EPSILON)) < 1e-12, `window ${i}`);
    }
    // causal: changing a later score leaves every earlier normalised score as it was
    const later = [...s];
    later[100] = 1e6;
    const got2 = causalStreamNormalise(later, history);
    for (let i = 0; i <= 100; i++) if (i !== 100) assert.equal(got2[i], got[i]);
    // with a history of at least the warm-up, no window looks ahead at all
    const long = Array.from({ length: STREAM_MIN_HISTORY }, () => rand());
    const a = causalStreamNormalise([5, 1], long);
    const b = causalStreamNormalise([5, 99], long);
    assert.equal(a[0], b[0]);
  });
});
