/**
 * The multi-scale nearest-window detector (activities/model/nearest-window-multiscale.ts) on a
 * campaign-sized input, its diagonal algorithm beside the first implementation (every window of every
 * scale materialised, pruned brute force: test/fixtures/multiscale-reference.ts) in the same process and
 * run, on the same rows. Default: 40 features, 3,000 training windows (one run of rows), 4,000 test
 * windows (two runs of rows with a gap between), dataset window 12, stride 1 — the evaluate step scores
 * the test split exactly like this (and the validation split once more).
 *
 * The rows look like scaled telemetry: counters quantised to 1/50, cycles with noise, random walks,
 * white noise; the test runs carry level shifts and spikes. (Exact repeats, the degenerate-median case,
 * are in test/model-nearest-window-multiscale.test.ts; here the noise makes every distance positive.) Reported: seconds of each (the new one ROUNDS times: best and median; the
 * reference once unless FAULTLINE_BENCH_MULTISCALE_REF_ROUNDS says more, it takes minutes), the ratio
 * reference / new, the load average around every run, and the largest relative difference of any score
 * (exact zeros must stay exact). For scale, the single-scale nearest window (the dataset's 12-row windows)
 * on the same windows beside every run of the new one.
 *
 * Run alone: `node lib/bench/multiscale.js` (the table on stderr, a JSON summary on stdout).
 * FAULTLINE_BENCH_MULTISCALE_FEATURES / _TRAIN / _TEST override the sizes.
 */
import { cpus, loadavg } from 'node:os';
import { mulberry32 } from '../activities/random';
import { multiscaleRaw, rowsFromWindows, type SplitRows } from '../activities/model/nearest-window-multiscale';
import { nearestWindowDistances } from '../activities/model/nearest-window';
import { multiscaleRawReference } from '../test/fixtures/multiscale-reference';

const F = Number(process.env.FAULTLINE_BENCH_MULTISCALE_FEATURES ?? 40);
const TRAIN = Number(process.env.FAULTLINE_BENCH_MULTISCALE_TRAIN ?? 3000);
const TEST = Number(process.env.FAULTLINE_BENCH_MULTISCALE_TEST ?? 4000);
const ROUNDS = Math.max(1, Number(process.env.FAULTLINE_BENCH_MULTISCALE_ROUNDS ?? 3));
const REF_ROUNDS = Math.max(1, Number(process.env.FAULTLINE_BENCH_MULTISCALE_REF_ROUNDS ?? 1));
const W = 12;
const STEP_MS = 5000;

/** `n` rows × F of telemetry-like series, float32-representable as the dataset stores them. */
function telemetry(rand: () => number, n: number, anomalies: boolean): Float32Array {
  const x = new Float32Array(n * F);
  const level = new Float64Array(F).fill(0.5);
  for (let i = 0; i < n; i++)
    for (let f = 0; f < F; f++) {
      let v: number;
      switch (f % 4) {
        case 0: // a counter: quantised, mostly repeating
          v = Math.round((0.4 + 0.2 * Math.sin((2 * Math.PI * i) / 120) + 0.05 * rand()) * 50) / 50;
          break;
        case 1: // a cycle with noise
          v = 0.5 + 0.3 * Math.sin((2 * Math.PI * (i + 7 * f)) / 60) + 0.03 * (rand() - 0.5);
          break;
        case 2: // a slow random walk
          level[f] = Math.min(1, Math.max(0, level[f]! + 0.01 * (rand() - 0.5)));
          v = level[f]!;
          break;
        default:
          v = 0.5 + 0.05 * (rand() - 0.5);
      }
      if (anomalies && i % 500 >= 250 && i % 500 < 280 && f % 5 === 0) v += 0.4; // a level shift
      if (anomalies && i % 700 === 350) v += 1; // a spike
      x[i * F + f] = v;
    }
  return x;
}

/** Stride-1 windows [n, W, F] of consecutive runs of rows (a gap of an hour between runs) → rows rebuilt as evaluate does. */
function split(runs: Float32Array[], name: string): { rows: SplitRows; windows: Float32Array } {
  const n = runs.reduce((a, r) => a + r.length / F - W + 1, 0);
  const windows = new Float32Array(n * W * F);
  const times = new Float64Array(2 * n);
  let k = 0;
  let t0 = 0;
  for (const rows of runs) {
    const count = rows.length / F - W + 1;
    for (let s = 0; s < count; s++, k++) {
      windows.set(rows.subarray(s * F, (s + W) * F), k * W * F);
      times[2 * k] = t0 + s * STEP_MS;
      times[2 * k + 1] = t0 + (s + W - 1) * STEP_MS;
    }
    t0 += (rows.length / F) * STEP_MS + 3_600_000;
  }
  return { rows: rowsFromWindows(windows, n, W, times, name), windows };
}

const load1 = (): number => Math.round((loadavg()[0] ?? 0) * 100) / 100;

interface Timed {
  seconds: number;
  /** CPU seconds of this process (user + system): less at the mercy of the shared host's load than wall time */
  cpuSeconds: number;
  load: [number, number];
}

async function timed<T>(f: () => Promise<T> | T): Promise<{ value: T } & Timed> {
  const before = load1();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const value = await f();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { value, seconds, cpuSeconds: (c.user + c.system) / 1e6, load: [before, load1()] };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};

export async function run(): Promise<Record<string, unknown>> {
  const rand = mulberry32(42);
  const trainSplit = split([telemetry(rand, TRAIN + W - 1, false)], 'train');
  const half = Math.floor(TEST / 2);
  const testSplit = split([telemetry(rand, half + W - 1, true), telemetry(rand, TEST - half + W - 1, true)], 'test');
  const train = trainSplit.rows;
  const test = testSplit.rows;
  console.error(
    `multi-scale nearest window: ${F} features, ${train.ends.length} training × ${test.ends.length} test windows (window ${W}; test in ${test.segments.length} runs)`,
  );
  const fast: Timed[] = [];
  const ref: Timed[] = [];
  const single: Timed[] = [];
  let fastScores = new Map<string, Float64Array>();
  let refScores = new Map<string, Float64Array>();
  // interleaved: new, reference, new, … so load drifts hit both
  for (let r = 0; r < Math.max(ROUNDS, REF_ROUNDS); r++) {
    if (r < ROUNDS) {
      const t = await timed(() => multiscaleRaw(train, test));
      fastScores = t.value;
      fast.push({ seconds: t.seconds, cpuSeconds: t.cpuSeconds, load: t.load });
      console.error(
        `  diagonal (product)   ${t.seconds.toFixed(2).padStart(8)} s (cpu ${t.cpuSeconds.toFixed(2)} s)   load ${t.load.join(' → ')}`,
      );
      const u = await timed(() => nearestWindowDistances(trainSplit.windows, testSplit.windows, W * F));
      single.push({ seconds: u.seconds, cpuSeconds: u.cpuSeconds, load: u.load });
      console.error(
        `  single-scale (${W} rows)${u.seconds.toFixed(2).padStart(8)} s (cpu ${u.cpuSeconds.toFixed(2)} s)   load ${u.load.join(' → ')}`,
      );
    }
    if (r < REF_ROUNDS) {
      const t = await timed(() => multiscaleRawReference(train, test));
      refScores = t.value;
      ref.push({ seconds: t.seconds, cpuSeconds: t.cpuSeconds, load: t.load });
      console.error(
        `  reference (old)      ${t.seconds.toFixed(2).padStart(8)} s (cpu ${t.cpuSeconds.toFixed(2)} s)   load ${t.load.join(' → ')}`,
      );
    }
  }
  let maxRel = 0;
  let zeros = 0;
  let zeroMismatch = 0;
  for (const [key, want] of refScores) {
    const got = fastScores.get(key);
    if (!got || got.length !== want.length) throw new Error(`scale ${key}: the two algorithms disagree on its windows`);
    for (let i = 0; i < want.length; i++) {
      if (want[i] === 0) {
        zeros++;
        if (got[i] !== 0) zeroMismatch++;
      } else maxRel = Math.max(maxRel, Math.abs(got[i]! - want[i]!) / want[i]!);
    }
  }
  if (maxRel > 1e-9 || zeroMismatch > 0)
    throw new Error(`scores differ: max relative ${maxRel}, ${zeroMismatch} of ${zeros} exact zeros not zero`);
  const fastMedian = median(fast.map((t) => t.seconds));
  const refMedian = median(ref.map((t) => t.seconds));
  const ratio = Math.round((refMedian / fastMedian) * 10) / 10;
  const cpuRatio = Math.round((median(ref.map((t) => t.cpuSeconds)) / median(fast.map((t) => t.cpuSeconds))) * 10) / 10;
  console.error(
    `  ratio reference / diagonal (medians): ${ratio}× wall, ${cpuRatio}× cpu; max relative score difference ${maxRel.toExponential(2)}`,
  );
  return {
    when: new Date().toISOString(),
    host: { cpus: cpus().length, cpu: cpus()[0]?.model },
    input: {
      features: F,
      window: W,
      trainWindows: train.ends.length,
      testWindows: test.ends.length,
      testRuns: test.segments.length,
    },
    diagonal: { best: Math.min(...fast.map((t) => t.seconds)), median: fastMedian, runs: fast },
    reference: { best: Math.min(...ref.map((t) => t.seconds)), median: refMedian, runs: ref },
    ratio,
    cpuRatio,
    singleScale: {
      note: `the product's nearest-window detector (one scale, the dataset's ${W}-row windows, pruned brute force) on the same windows, for scale`,
      median: median(single.map((t) => t.seconds)),
      runs: single,
      multiscaleOverSingle: Math.round((fastMedian / median(single.map((t) => t.seconds))) * 100) / 100,
    },
    scores: { maxRelativeDifference: maxRel, exactZeros: zeros, exactZerosKept: zeros - zeroMismatch },
  };
}

if (require.main === module)
  run().then(
    (r) => {
      console.log(JSON.stringify(r, null, 1));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
