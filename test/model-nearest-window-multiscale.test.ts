import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MULTISCALE_MAX_LENGTH,
  multiscaleCombine,
  multiscaleRaw,
  rowsFromWindows,
} from '../activities/model/nearest-window-multiscale';
import { mulberry32 } from '../activities/random';
import { pythonTorch } from './fixtures/model-helpers';
import { multiscaleRawReference } from './fixtures/multiscale-reference';

/** The repository's Python package dir (from test/ or lib/test/). */
function usadPackageDir(): string {
  for (const p of [
    join(__dirname, '..', 'workers', 'training', 'usad'),
    join(__dirname, '..', '..', 'workers', 'training', 'usad'),
  ])
    if (existsSync(join(p, 'usad', 'msl.py'))) return p;
  throw new Error('workers/training/usad/usad/msl.py not found');
}

/** A random walk of n rows × F features, float32-representable (the dataset stores float32). */
function walk(rand: () => number, n: number, F: number, jump = 0): Float32Array {
  const x = new Float32Array(n * F);
  for (let f = 0; f < F; f++) x[f] = 0.5;
  for (let i = 1; i < n; i++)
    for (let f = 0; f < F; f++) x[i * F + f] = x[(i - 1) * F + f]! + (rand() - 0.5) * 0.1 + (i === 70 ? jump : 0);
  return x;
}

/** The dataset layout: stride-1 windows [n, W, F] of one segment of rows and their first/last row times. */
function windowsOf(rows: Float32Array, F: number, W: number, t0: number, stepMs: number) {
  const nRows = rows.length / F;
  const n = nRows - W + 1;
  const windows = new Float32Array(n * W * F);
  const times = new Float64Array(2 * n);
  for (let k = 0; k < n; k++) {
    windows.set(rows.subarray(k * F, (k + W) * F), k * W * F);
    times[2 * k] = t0 + k * stepMs;
    times[2 * k + 1] = t0 + (k + W - 1) * stepMs;
  }
  return { windows, times, n };
}

describe('multi-scale nearest-window detector', function () {
  this.timeout(120_000);

  for (const repeat of [false, true])
    it(`scores as the Python bench (msl.multiscale_raw + multiscale_combine) on a small fixture${repeat ? ' whose validation repeats training rows (degenerate medians: the divisor floor)' : ''}`, async function () {
      const py = pythonTorch();
      if (!py.ok) {
        console.warn(`SKIPPED: needs /usr/bin/python3 with torch + numpy (${py.why})`);
        this.skip();
      }
      const rand = mulberry32(21);
      const F = 2;
      const W = 12;
      const train = walk(rand, 160, F);
      // repeat: validation rows are training rows 20..89 (quantised telemetry repeats training exactly)
      const val = repeat ? train.slice(20 * F, 90 * F) : walk(rand, 70, F);
      const test = walk(rand, 130, F, 0.6); // a level shift at row 70
      const step = 5000;
      const tw = windowsOf(train, F, W, 0, step);
      const vw = windowsOf(val, F, W, 1e6, step);
      const qw = windowsOf(test, F, W, 2e6, step);
      const trRows = rowsFromWindows(tw.windows, tw.n, W, tw.times, 'train');
      const vRows = rowsFromWindows(vw.windows, vw.n, W, vw.times, 'val');
      const tRows = rowsFromWindows(qw.windows, qw.n, W, qw.times, 'test');
      assert.deepEqual(Array.from(trRows.segments[0]!), Array.from(train), 'rows rebuilt from the windows');
      const rawV = await multiscaleRaw(trRows, vRows);
      const rawT = await multiscaleRaw(trRows, tRows);
      const got = multiscaleCombine(rawV, rawT);

      const dir = await mkdtemp(join(tmpdir(), 'fl-ms-'));
      try {
        const input = join(dir, 'in.json');
        await writeFile(
          input,
          JSON.stringify({ F, W, train: Array.from(train), val: Array.from(val), test: Array.from(test) }),
        );
        const code = [
          'import sys, json, numpy as np',
          `sys.path.insert(0, ${JSON.stringify(usadPackageDir())})`,
          'from usad import msl',
          `d = json.load(open(${JSON.stringify(input)}))`,
          "F, W = d['F'], d['W']",
          "s = {k: np.array(d[k], dtype=np.float32).astype(np.float64).reshape(-1, F) for k in ('train', 'val', 'test')}",
          "raw = msl.multiscale_raw(s['train'], len(s['train']) - 1, {q: (s[q], np.arange(W - 1, len(s[q]))) for q in ('val', 'test')})",
          "c = msl.multiscale_combine(raw['val'], raw['test'])",
          "print(json.dumps({'val': c['val'].tolist(), 'test': c['test'].tolist(), 'raw_test': {f'{r}:{w}': v.tolist() for (r, w), v in raw['test'].items()}}))",
        ].join('\n');
        const want = JSON.parse(py.run(['-c', code])) as {
          val: number[];
          test: number[];
          raw_test: Record<string, number[]>;
        };
        assert.deepEqual([...rawT.keys()], Object.keys(want.raw_test), 'the same scales in the same order');
        for (const [k, v] of Object.entries(want.raw_test)) {
          const g = rawT.get(k)!;
          assert.equal(g.length, v.length, k);
          for (let i = 0; i < v.length; i++)
            assert.ok(Math.abs(g[i]! - v[i]!) <= 1e-6 * Math.max(1, v[i]!), `${k} window ${i}: ${g[i]} vs ${v[i]}`);
        }
        for (const split of ['val', 'test'] as const) {
          assert.equal(got[split].length, want[split].length, split);
          for (let i = 0; i < want[split].length; i++)
            assert.ok(
              Math.abs(got[split][i]! - want[split][i]!) <= 1e-6 * Math.max(1, Math.abs(want[split][i]!)),
              `${split} window ${i}: ${got[split][i]} vs ${want[split][i]}`,
            );
        }
        // the level shift at row 70 is what the detector finds: the windows ending after it score above the ones before
        const before = Math.max(...got.test.subarray(20, 55));
        assert.ok(got.test[70 - (W - 1)]! > before, 'the shift scores above every earlier window');
        // most validation windows repeat training (distance 0): the floor keeps the others at a ratio to
        // the validation mean instead of to ε (which would put them near 1e5)
        if (repeat) assert.ok(Math.max(...got.val) < 100, `validation max ${Math.max(...got.val)}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

  /** Runs of rows (float32-representable walks, or quantised to 1/20 so windows repeat exactly). */
  function runs(rand: () => number, lengths: number[], F: number, quantised: boolean): Float64Array[] {
    return lengths.map((n) => {
      const x = Float64Array.from(walk(rand, n, F));
      if (quantised) for (let i = 0; i < x.length; i++) x[i] = Math.round(x[i]! * 20) / 20;
      return x;
    });
  }

  // the diagonal algorithm against the first implementation (every window of every scale materialised,
  // pruned brute force): |new − old| ≤ 1e-12 · old, and an exact 0 stays exactly 0
  for (const { F, quantised } of [
    { F: 1, quantised: false },
    { F: 5, quantised: false }, // not a multiple of the 4-way unrolled feature loop
    { F: 8, quantised: true },
  ])
    it(`scores as the first implementation within 1e-12 relative: ${F} feature(s)${quantised ? ', quantised, query runs repeating training (exact zeros, degenerate medians)' : ''}, several training and query runs, front padding, windows at a stride`, async () => {
      const rand = mulberry32(100 + F);
      // training runs: one long, one exactly the longest window, one shorter (only short lengths fit)
      const train = { features: F, segments: runs(rand, [90, MULTISCALE_MAX_LENGTH, 20], F, quantised), ends: [] };
      const querySegs = runs(rand, [70, 9, 60], F, quantised);
      if (quantised) {
        querySegs[0]!.set(train.segments[0]!.subarray(10 * F, 80 * F)); // a run that repeats training rows 10..79
        querySegs[2]!.set(train.segments[1]!.subarray(0, 40 * F), 20 * F); // partly repeats the second run
      }
      const ends: { segment: number; row: number }[] = [];
      querySegs.forEach((s, segment) => {
        // from the segment's first row on (front padding at every length), at stride 3 in the first run
        for (let row = 0; row < s.length / F; row += segment === 0 ? 3 : 1) ends.push({ segment, row });
      });
      ends.push({ segment: 2, row: 5 }); // a second window ending on the same row
      const query = { features: F, segments: querySegs, ends };
      const got = await multiscaleRaw(train, query);
      const want = multiscaleRawReference(train, query);
      assert.deepEqual([...got.keys()], [...want.keys()], 'the same scales in the same order');
      let zeros = 0;
      for (const [key, w] of want) {
        const g = got.get(key)!;
        assert.equal(g.length, ends.length, key);
        for (let i = 0; i < w.length; i++) {
          if (w[i] === 0) zeros++;
          assert.ok(Math.abs(g[i]! - w[i]!) <= 1e-12 * w[i]!, `${key} window ${i}: ${g[i]} vs ${w[i]}`);
        }
      }
      if (quantised) {
        assert.ok(zeros > 100, `${zeros} exact repeats: the fixture must exercise them`);
        // validation = the repeating query: degenerate medians take the divisor floor on both sides alike
        const a = multiscaleCombine(got, got);
        const b = multiscaleCombine(want, want);
        for (let i = 0; i < a.test.length; i++)
          assert.ok(Math.abs(a.test[i]! - b.test[i]!) <= 1e-9 * Math.max(1, Math.abs(b.test[i]!)), `combined ${i}`);
      }
    });

  it('rebuilds rows across a gap as two segments and front-pads each', () => {
    const rand = mulberry32(3);
    const F = 1;
    const W = 4;
    const a = windowsOf(walk(rand, 30, F), F, W, 0, 1000);
    const b = windowsOf(walk(rand, 20, F), F, W, 100_000, 1000);
    const windows = new Float32Array([...a.windows, ...b.windows]);
    const times = new Float64Array([...a.times, ...b.times]);
    const rows = rowsFromWindows(windows, a.n + b.n, W, times, 'test');
    assert.equal(rows.segments.length, 2);
    assert.deepEqual(
      rows.segments.map((s) => s.length),
      [30, 20],
    );
    assert.deepEqual(rows.ends[a.n], { segment: 1, row: W - 1 });
  });

  it('says why it cannot score: windows that are not slices of one table, too short a training run', async () => {
    const rand = mulberry32(5);
    const F = 2;
    const W = 4;
    const { windows, times, n } = windowsOf(walk(rand, 40, F), F, W, 0, 1000);
    windows[W * F + 1] = 9; // window 1's first row differs from window 0's second row
    assert.throws(() => rowsFromWindows(windows, n, W, times, 'val'), /val: windows 0 and 1 disagree on a shared row/);
    assert.throws(() => rowsFromWindows(windows, n, W, new Float64Array(2 * n), 'val'), /window times do not advance/);
    const short = windowsOf(walk(rand, MULTISCALE_MAX_LENGTH - 1, F), F, W, 0, 1000);
    const rows = rowsFromWindows(short.windows, short.n, W, short.times, 'train');
    await assert.rejects(
      multiscaleRaw(rows, rows),
      /longest run of consecutive rows has 47, fewer than the longest window \(48\)/,
    );
    const long = windowsOf(walk(rand, 60, F), F, W, 0, 1000);
    const trainRows = rowsFromWindows(long.windows, long.n, W, long.times, 'train');
    await assert.rejects(
      multiscaleRaw(trainRows, { ...trainRows, ends: [{ segment: 0, row: 60 }] }),
      /query window 0 ends at segment 0 row 60, outside the query rows/,
    );
  });
});
