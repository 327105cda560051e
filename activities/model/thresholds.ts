import { bestF1, thresholdSweep, type Labels, type Scores } from './metrics';

/** Linear-interpolated quantile (numpy's default 'linear' method), q in [0, 1]. */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) throw new Error('quantile of an empty array');
  const s = Float64Array.from(values).sort();
  const pos = Math.min(1, Math.max(0, q)) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** The smallest double above x (x finite): `score >= nextUp(x)` is `score > x`. */
export function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Number.POSITIVE_INFINITY) return x;
  if (x === 0) return Number.MIN_VALUE;
  const b = new Float64Array([x]);
  const bits = new BigInt64Array(b.buffer);
  bits[0] = bits[0]! + (x > 0 ? 1n : -1n);
  return b[0]!;
}

/**
 * Threshold just above the q-th quantile of the scores of the normal (label 0) validation windows, so
 * that predictions (score ≥ threshold) alarm on scores strictly above the quantile. The quantile
 * promises that at most 1 − q of normal windows alarm; at the quantile itself that promise breaks when
 * normal scores tie there — a series constant through validation would alarm on all of its normal
 * windows, and on every test window equal to them (msl.f1_at, docs/msl-benchmark.md).
 */
export function percentileThreshold(scores: Scores, labels: Labels | undefined, q: number): number {
  const normal: number[] = [];
  for (let i = 0; i < scores.length; i++) if (!labels || !(labels[i]! > 0)) normal.push(scores[i]!);
  return nextUp(quantile(normal, q));
}

/**
 * The threshold giving the best F1 on a labelled (validation) split, placed in the middle of the gap
 * that F1 leaves between the lowest alarmed score and the highest score left quiet. Every threshold in
 * that gap gives the same validation F1; its upper edge (the lowest alarmed validation score itself)
 * would miss any test anomaly scoring a hair below the weakest validation one, so the threshold that
 * generalises is the one with the most room on both sides.
 */
export function bestF1Threshold(scores: Scores, labels: Labels): { threshold: number; f1: number } {
  const sw = thresholdSweep(scores, labels);
  const b = bestF1(scores, labels, sw);
  const k = sw.thresholds.indexOf(b.threshold);
  const below = k >= 0 ? sw.thresholds[k + 1] : undefined;
  return { threshold: below === undefined ? b.threshold : (b.threshold + below) / 2, f1: b.f1 };
}

export interface GpdFit {
  /** shape γ (ξ) */
  gamma: number;
  /** scale σ */
  sigma: number;
  logLikelihood: number;
  method: 'grimshaw' | 'exponential' | 'mom';
}

function gpdLogLik(y: ArrayLike<number>, gamma: number, sigma: number): number {
  const n = y.length;
  if (!(sigma > 0)) return Number.NEGATIVE_INFINITY;
  if (Math.abs(gamma) < 1e-12) {
    let s = 0;
    for (let i = 0; i < n; i++) s += y[i]!;
    return -n * Math.log(sigma) - s / sigma;
  }
  let s = 0;
  for (let i = 0; i < n; i++) {
    const t = 1 + (gamma * y[i]!) / sigma;
    if (!(t > 0)) return Number.NEGATIVE_INFINITY;
    s += Math.log(t);
  }
  return -n * Math.log(sigma) - (1 + 1 / gamma) * s;
}

/**
 * Fits a generalised Pareto distribution to excesses `y` (> 0) by maximum likelihood with Grimshaw's
 * reduction (Siffer et al. 2017, §3.2): the ML estimate solves u(x)·v(x) = 1 with
 * u(x) = mean(1/(1+x·y)), v(x) = 1 + mean(log(1+x·y)), then γ = v(x*) − 1, σ = γ/x*. Roots are searched
 * in (−1/y_max, 0) and (0, 2(ȳ − y_min)/y_min²) by a sign-change scan plus bisection; the exponential
 * case (γ = 0) and the method-of-moments estimate are candidates too; the best likelihood wins.
 */
export function fitGpd(y: ArrayLike<number>): GpdFit {
  const n = y.length;
  if (n === 0) throw new Error('fitGpd: no excesses');
  let mean = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < n; i++) {
    mean += y[i]!;
    min = Math.min(min, y[i]!);
    max = Math.max(max, y[i]!);
  }
  mean /= n;
  let varr = 0;
  for (let i = 0; i < n; i++) varr += (y[i]! - mean) ** 2;
  varr /= Math.max(1, n - 1);

  const cands: GpdFit[] = [];
  const add = (gamma: number, sigma: number, method: GpdFit['method']): void => {
    const ll = gpdLogLik(y, gamma, sigma);
    if (Number.isFinite(ll)) cands.push({ gamma, sigma, logLikelihood: ll, method });
  };
  add(0, mean, 'exponential');
  if (varr > 0) {
    const r = (mean * mean) / varr;
    add(0.5 * (1 - r), 0.5 * mean * (r + 1), 'mom');
  }

  const w = (x: number): number => {
    let u = 0;
    let v = 0;
    for (let i = 0; i < n; i++) {
      const t = 1 + x * y[i]!;
      u += 1 / t;
      v += Math.log(t);
    }
    return (u / n) * (1 + v / n) - 1;
  };
  const roots: number[] = [];
  // Scan a grid mixing linear and logarithmic spacing (a root may sit many decades from the interval's
  // far end, e.g. the positive interval is (0, 2(ȳ − y_min)/y_min²), huge when y_min is tiny); every
  // sign change is refined by bisection.
  const scan = (a: number, b: number): void => {
    if (!(b > a)) return;
    const K = 64;
    const grid: number[] = [];
    for (let k = 0; k <= K; k++) grid.push(a + ((b - a) * k) / K);
    const lo0 = Math.max(Math.abs(a), Math.abs(b)) * 1e-12;
    const span = Math.max(Math.abs(a), Math.abs(b));
    for (let k = 0; k <= K; k++) {
      const m = lo0 * Math.pow(span / lo0, k / K);
      if (a >= 0) grid.push(a + m);
      else {
        grid.push(b - m);
        grid.push(a + m);
      }
    }
    const xs = grid.filter((x) => x >= a && x <= b).sort((p, q) => p - q);
    let xa = xs[0]!;
    let fa = w(xa);
    for (let k = 1; k < xs.length; k++) {
      const xb = xs[k]!;
      if (xb === xa) continue;
      const fb = w(xb);
      if (Number.isFinite(fa) && Number.isFinite(fb) && fa * fb <= 0) {
        let lo = xa;
        let hi = xb;
        let flo = fa;
        for (let it = 0; it < 100; it++) {
          const mid = (lo + hi) / 2;
          const fm = w(mid);
          if (flo * fm <= 0) hi = mid;
          else {
            lo = mid;
            flo = fm;
          }
        }
        roots.push((lo + hi) / 2);
      }
      xa = xb;
      fa = fb;
    }
  };
  if (max > 0 && min > 0) {
    // Keep away from x = 0, where w(0) = 0 trivially, and from the pole at −1/y_max.
    const eps = 1e-6 / max;
    scan(-1 / max + eps, -eps);
    const upper = (2 * (mean - min)) / (min * min);
    scan(eps, upper);
  }
  for (const x of roots) {
    const v = 1 + mean1p(y, x);
    const gamma = v - 1;
    if (x !== 0 && gamma !== 0) add(gamma, gamma / x, 'grimshaw');
  }
  if (cands.length === 0)
    return { gamma: 0, sigma: mean, logLikelihood: Number.NEGATIVE_INFINITY, method: 'exponential' };
  return cands.reduce((a, b) => (b.logLikelihood > a.logLikelihood ? b : a));
}

function mean1p(y: ArrayLike<number>, x: number): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += Math.log(1 + x * y[i]!);
  return s / y.length;
}

/** z_q = t + σ/γ·((q·n/N_t)^(−γ) − 1), or t − σ·ln(q·n/N_t) when γ = 0 (Siffer et al., eq. 1). */
export function gpdQuantile(t: number, fit: Pick<GpdFit, 'gamma' | 'sigma'>, q: number, n: number, nt: number): number {
  const r = (q * n) / nt;
  if (Math.abs(fit.gamma) < 1e-9) return t - fit.sigma * Math.log(r);
  return t + (fit.sigma / fit.gamma) * (Math.pow(r, -fit.gamma) - 1);
}

export interface PotResult {
  threshold: number;
  /** the initial (peaks-over) threshold t */
  initialThreshold: number;
  peaks: number;
  n: number;
  fit: GpdFit;
  q: number;
}

/**
 * Peaks-over-threshold: t = the `level` quantile of the calibration scores, a GPD fitted to the excesses
 * over t, and the returned threshold z_q has exceedance probability q.
 */
export function potThreshold(scores: ArrayLike<number>, q = 1e-3, level = 0.98): PotResult {
  const n = scores.length;
  const t = quantile(scores, level);
  const peaks: number[] = [];
  for (let i = 0; i < n; i++) if (scores[i]! > t) peaks.push(scores[i]! - t);
  if (peaks.length < 5) throw new Error(`POT: only ${peaks.length} peaks over the ${level} quantile`);
  const fit = fitGpd(peaks);
  return { threshold: gpdQuantile(t, fit, q, n, peaks.length), initialThreshold: t, peaks: peaks.length, n, fit, q };
}

export interface SpotResult {
  /** the threshold in force when each stream value arrived */
  thresholds: Float64Array;
  alarms: Uint8Array;
  final: PotResult;
}

/**
 * SPOT (Siffer et al. Alg. 1): calibrate POT on `init`, then stream: a value above z_q is an alarm (and
 * not added to the model); a value above t is a new peak, the GPD is refitted and z_q updated.
 */
export function spot(
  init: ArrayLike<number>,
  stream: ArrayLike<number>,
  q = 1e-3,
  level = 0.98,
  /** refit the GPD after this many new peaks (1 = Siffer et al.'s every peak; larger bounds the cost on long streams) */
  refitEvery = 1,
): SpotResult {
  const pot = potThreshold(init, q, level);
  const t = pot.initialThreshold;
  const peaks: number[] = [];
  for (let i = 0; i < init.length; i++) if (init[i]! > t) peaks.push(init[i]! - t);
  let n = init.length;
  let z = pot.threshold;
  let fit = pot.fit;
  let pending = 0;
  const thresholds = new Float64Array(stream.length);
  const alarms = new Uint8Array(stream.length);
  for (let i = 0; i < stream.length; i++) {
    const x = stream[i]!;
    thresholds[i] = z;
    if (x > z) {
      alarms[i] = 1;
      continue;
    }
    n++;
    if (x > t) {
      peaks.push(x - t);
      pending++;
      if (pending >= refitEvery) {
        pending = 0;
        fit = fitGpd(peaks);
      }
      // n and N_t move with every value even between refits
      z = gpdQuantile(t, fit, q, n, peaks.length);
    }
  }
  return { thresholds, alarms, final: { threshold: z, initialThreshold: t, peaks: peaks.length, n, fit, q } };
}
