/**
 * Dataset pipeline throughput: read → label → clean → scale → window → write on a 1,000,000-row ×
 * 20-feature campaign (600k baseline + 400k chaos points, short gaps every 5,000 points per series,
 * a fault every 500 chaos points), beside the same pipeline in pandas/numpy (bench/dataset_pandas.py)
 * on the same data in the same run. Goal: ≥ 2× faster than pandas, peak memory reported.
 *
 * Fairness on a shared 2-core host: each side runs in its own niced process (so its peak RSS, VmHWM,
 * is its own), ROUNDS times, interleaved and alternating which goes first (node, pandas, pandas,
 * node, …) so load drifts hit both; each run starts with the page cache flushed of dirty data (sync)
 * and writes to a fresh directory that is deleted afterwards. Reported: best and median seconds of
 * each side, speed-up best/best and median/median, the load average around every run, per-stage
 * times of each side's best run. Both sides must agree on window counts and labels, every run.
 * Node writes more than pandas: also points.arrow (no pyarrow here) and the dataset card.
 *
 * Run alone: `node lib/bench/dataset.js` (the table on stderr, a JSON summary on stdout).
 * FAULTLINE_BENCH_DATASET_ROWS overrides the row count, FAULTLINE_BENCH_DATASET_ROUNDS the rounds (3).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDatasetFromTables } from '../activities/dataset/build';
import { readFaultRecords } from '../activities/dataset/fault-records';
import { syntheticCampaign, writeSyntheticCampaign } from '../activities/dataset/synthetic';
import { writeNpySync } from '../activities/dataset/npy';
import { datasetSchema } from '../schemas/dataset';

const ROWS = Number(process.env.FAULTLINE_BENCH_DATASET_ROWS ?? 1_000_000);
const ROUNDS = Math.max(1, Number(process.env.FAULTLINE_BENCH_DATASET_ROUNDS ?? 3));
const FEATURES = 20;
const WINDOW = 12;
const STRIDE = 1;
const MARGIN = '5s';
const MAX_GAP = '5s';

type Engine = 'faultline (node)' | 'pandas/numpy';

export interface DatasetBenchRun {
  engine: Engine;
  round: number;
  seconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
  /** 1-minute load average just before and just after the run. */
  load: [number, number];
  timingsMs: Record<string, number>;
}

export interface DatasetBenchSide {
  engine: Engine;
  best: number;
  median: number;
  /** CPU seconds (user + system, all threads): least and median over the rounds. */
  cpuSeconds: { best: number; median: number };
  peakRssMiB: { best: number; max: number };
  /** Per-stage ms of the best run. */
  timingsMs: Record<string, number>;
}

export interface DatasetBenchResult {
  rows: number;
  features: number;
  window: { size: number; stride: number };
  rounds: number;
  host: { cpus: number };
  /** Wall time pandas / node (best / best, median / median), and CPU time pandas / node (medians). */
  speedup: { best: number; median: number; cpu: number; goal: number };
  windows: Record<string, number>;
  sides: DatasetBenchSide[];
  runs: DatasetBenchRun[];
}

interface ChildOut {
  timings: Record<string, number>;
  seconds: number;
  /** CPU time of the timed part, user + system, all threads. */
  cpuSeconds: number;
  peakRssKb: number;
  windows: Record<string, number>;
  anomalousWindows: Record<string, number>;
  features: number;
}

function peakRssKb(): number {
  const m = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** The timed Node side (runs in a child process). */
async function child(dir: string, out: string): Promise<void> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const faults = await readFaultRecords(join(dir, 'chaos', 'faults.jsonl'));
  const res = await buildDatasetFromTables({
    campaignId: 'bench',
    configHash: 'bench',
    outDir: out,
    tables: { baseline: join(dir, 'metrics', 'baseline.arrow'), chaos: join(dir, 'metrics', 'chaos.arrow') },
    faults,
    config: datasetSchema.parse({ window: { size: WINDOW, stride: STRIDE }, labelMargin: MARGIN, maxGapFill: MAX_GAP }),
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0); // every thread of the process, user + system
  const anomalousWindows = Object.fromEntries(
    Object.entries(res.card.splits).map(([k, s]) => [k, s.windows.anomalous]),
  );
  console.log(
    JSON.stringify({
      timings: res.timings,
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      peakRssKb: peakRssKb(),
      windows: res.windows,
      anomalousWindows,
      features: res.features.length,
    }),
  );
}

function runChild(cmd: string, args: string[]): ChildOut {
  const r = spawnSync('nice', ['-n', '10', cmd, ...args], { encoding: 'utf8', timeout: 900_000, maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as ChildOut;
}

function pandasScript(): string {
  for (const p of [join(__dirname, 'dataset_pandas.py'), join(__dirname, '..', '..', 'bench', 'dataset_pandas.py')])
    if (existsSync(p)) return p;
  throw new Error('bench/dataset_pandas.py not found');
}

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const load1 = () => Math.round((loadavg()[0] ?? 0) * 100) / 100;

export async function run(): Promise<DatasetBenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'fl-bench-dataset-'));
  try {
    const baselineRows = Math.round(ROWS * 0.6);
    const c = syntheticCampaign({
      baselineRows,
      chaosRows: ROWS - baselineRows,
      features: FEATURES,
      gapEvery: 5000,
      faultEvery: 500,
      seed: 7,
    });
    await writeSyntheticCampaign(dir, c);
    // pandas has no Arrow reader here (no pyarrow): the same tables as .npy [rows, 1 + F] float64.
    for (const [phase, p] of Object.entries(c.phases)) {
      const n = p.ts.length;
      const m = new Float64Array(n * (FEATURES + 1));
      for (let i = 0; i < n; i++) m[i * (FEATURES + 1)] = p.ts[i] as number;
      c.names.forEach((name, f) => {
        const v = p.cols.get(name) as Float64Array;
        for (let i = 0; i < n; i++) m[i * (FEATURES + 1) + f + 1] = v[i] as number;
      });
      writeNpySync(join(dir, `${phase}.npy`), { dtype: 'float64', shape: [n, FEATURES + 1], data: m });
    }
    await writeFile(join(dir, 'names.json'), JSON.stringify(c.names));

    const sides: Record<Engine, () => ChildOut> = {
      'faultline (node)': () => runChild(process.execPath, [__filename, '--child', dir, join(dir, 'out')]),
      'pandas/numpy': () =>
        runChild('/usr/bin/python3', [
          pandasScript(),
          dir,
          join(dir, 'out'),
          String(WINDOW),
          String(STRIDE),
          '5000',
          '5000',
        ]),
    };
    const runs: DatasetBenchRun[] = [];
    let reference: ChildOut | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      const order: Engine[] =
        round % 2 === 0 ? ['faultline (node)', 'pandas/numpy'] : ['pandas/numpy', 'faultline (node)'];
      for (const engine of order) {
        await rm(join(dir, 'out'), { recursive: true, force: true });
        await mkdir(join(dir, 'out'));
        spawnSync('sync'); // no dirty pages of an earlier run left to write back during this one
        const before = load1();
        const out = sides[engine]();
        const after = load1();
        await rm(join(dir, 'out'), { recursive: true, force: true });
        reference ??= out;
        for (const split of ['train', 'val', 'test']) {
          if (
            out.windows[split] !== reference.windows[split] ||
            out.anomalousWindows[split] !== reference.anomalousWindows[split]
          ) {
            throw new Error(
              `the pipelines disagree on ${split}: ${engine} ${JSON.stringify(out)} vs ${JSON.stringify(reference)}`,
            );
          }
        }
        runs.push({
          engine,
          round,
          seconds: out.seconds,
          cpuSeconds: Math.round(out.cpuSeconds * 100) / 100,
          peakRssMiB: Math.round(out.peakRssKb / 1024),
          load: [before, after],
          timingsMs: out.timings,
        });
        console.error(
          `  round ${round + 1}/${ROUNDS} ${engine.padEnd(16)} ${out.seconds.toFixed(2).padStart(6)} s (CPU ${out.cpuSeconds.toFixed(1)} s)  peak ${Math.round(out.peakRssKb / 1024)} MiB  load ${before} → ${after}`,
        );
      }
    }
    const side = (engine: Engine): DatasetBenchSide => {
      const mine = runs.filter((r) => r.engine === engine);
      const best = mine.reduce((a, r) => (r.seconds < a.seconds ? r : a));
      return {
        engine,
        best: best.seconds,
        median: median(mine.map((r) => r.seconds)),
        cpuSeconds: {
          best: Math.min(...mine.map((r) => r.cpuSeconds)),
          median: median(mine.map((r) => r.cpuSeconds)),
        },
        peakRssMiB: { best: best.peakRssMiB, max: Math.max(...mine.map((r) => r.peakRssMiB)) },
        timingsMs: best.timingsMs,
      };
    };
    const node = side('faultline (node)');
    const py = side('pandas/numpy');
    const result: DatasetBenchResult = {
      rows: ROWS,
      features: FEATURES,
      window: { size: WINDOW, stride: STRIDE },
      rounds: ROUNDS,
      host: { cpus: availableParallelism() },
      speedup: {
        best: Math.round((py.best / node.best) * 100) / 100,
        median: Math.round((py.median / node.median) * 100) / 100,
        cpu: Math.round((py.cpuSeconds.median / node.cpuSeconds.median) * 100) / 100,
        goal: 2,
      },
      windows: reference?.windows ?? {},
      sides: [node, py],
      runs,
    };

    const log = (line: string) => console.error(line);
    log(
      `\ndataset pipeline, ${ROWS.toLocaleString('en-US')} rows × ${FEATURES} features, window ${WINDOW}/${STRIDE}, ` +
        `${ROUNDS} interleaved rounds (niced, same machine, same run); stages of each side's best run`,
    );
    const stages = [
      'read',
      'label',
      'clean',
      'scale',
      'window',
      'write-npy',
      'write-arrow',
      'write-csv',
      'csv-total',
      'card',
    ];
    log(
      'engine'.padEnd(18) +
        stages.map((s) => s.padStart(12)).join('') +
        'best s'.padStart(9) +
        'median s'.padStart(10) +
        'CPU s'.padStart(8) +
        'peak MiB'.padStart(10),
    );
    for (const r of [node, py]) {
      log(
        r.engine.padEnd(18) +
          stages.map((s) => (r.timingsMs[s] === undefined ? '—' : String(r.timingsMs[s])).padStart(12)).join('') +
          r.best.toFixed(2).padStart(9) +
          r.median.toFixed(2).padStart(10) +
          r.cpuSeconds.median.toFixed(1).padStart(8) +
          String(r.peakRssMiB.max).padStart(10),
      );
    }
    const loads = runs.flatMap((r) => r.load);
    log(
      `speed-up: best ${result.speedup.best}×, median ${result.speedup.median}× (goal ≥ 2×), CPU time ${result.speedup.cpu}×; ` +
        `load average during the runs ${Math.min(...loads)}–${Math.max(...loads)} on ${result.host.cpus} cores; windows ${JSON.stringify(result.windows)}`,
    );
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const i = process.argv.indexOf('--child');
  const job =
    i >= 0
      ? child(process.argv[i + 1] as string, process.argv[i + 2] as string)
      : run().then((r) => console.log(JSON.stringify(r, null, 1)));
  job.then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
