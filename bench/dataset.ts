/**
 * Dataset pipeline throughput: read → label → clean → scale → window → write on a 1,000,000-row ×
 * 20-feature campaign (600k baseline + 400k chaos points, short gaps every 5,000 points per series,
 * a fault every 500 chaos points), beside the same pipeline in pandas/numpy (bench/dataset_pandas.py)
 * on the same data in the same run. Each side runs in its own niced process so its peak RSS (VmHWM)
 * is its own. Goal: ≥ 2× faster than pandas. Run alone: `node lib/bench/dataset.js`.
 * FAULTLINE_BENCH_DATASET_ROWS overrides the row count.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDatasetFromTables } from '../activities/dataset/build';
import { readFaultRecords } from '../activities/dataset/fault-records';
import { syntheticCampaign, writeSyntheticCampaign } from '../activities/dataset/synthetic';
import { writeNpy } from '../activities/dataset/npy';
import { datasetSchema } from '../schemas/dataset';

const ROWS = Number(process.env.FAULTLINE_BENCH_DATASET_ROWS ?? 1_000_000);
const FEATURES = 20;
const WINDOW = 12;
const STRIDE = 1;
const MARGIN = '5s';
const MAX_GAP = '5s';

export interface DatasetBenchRow {
  engine: 'faultline (node)' | 'pandas/numpy';
  rows: number;
  features: number;
  seconds: number;
  peakRssMiB: number;
  timingsMs: Record<string, number>;
  windows: Record<string, number>;
}

interface ChildOut {
  timings: Record<string, number>;
  seconds: number;
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
  const anomalousWindows = Object.fromEntries(
    Object.entries(res.card.splits).map(([k, s]) => [k, s.windows.anomalous]),
  );
  console.log(
    JSON.stringify({
      timings: res.timings,
      seconds,
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

export async function run(): Promise<DatasetBenchRow[]> {
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
      writeNpy(join(dir, `${phase}.npy`), '<f8', [n, FEATURES + 1], m);
    }
    await writeFile(join(dir, 'names.json'), JSON.stringify(c.names));
    await mkdir(join(dir, 'out-node'));

    const node = runChild(process.execPath, [__filename, '--child', dir, join(dir, 'out-node')]);
    await rm(join(dir, 'out-node'), { recursive: true, force: true }); // free the disk before the second run
    const py = runChild('/usr/bin/python3', [
      pandasScript(),
      dir,
      join(dir, 'out-pandas'),
      String(WINDOW),
      String(STRIDE),
      '5000',
      '5000',
    ]);
    for (const split of ['train', 'val', 'test']) {
      if (node.windows[split] !== py.windows[split] || node.anomalousWindows[split] !== py.anomalousWindows[split]) {
        throw new Error(
          `the two pipelines disagree on ${split}: node ${JSON.stringify(node)} pandas ${JSON.stringify(py)}`,
        );
      }
    }
    const rows: DatasetBenchRow[] = [
      {
        engine: 'faultline (node)',
        rows: ROWS,
        features: FEATURES,
        seconds: node.seconds,
        peakRssMiB: node.peakRssKb / 1024,
        timingsMs: node.timings,
        windows: node.windows,
      },
      {
        engine: 'pandas/numpy',
        rows: ROWS,
        features: FEATURES,
        seconds: py.seconds,
        peakRssMiB: py.peakRssKb / 1024,
        timingsMs: py.timings,
        windows: py.windows,
      },
    ];
    console.log(
      `\ndataset pipeline, ${ROWS.toLocaleString('en-US')} rows × ${FEATURES} features, window ${WINDOW}/${STRIDE} (niced, same machine, same run)`,
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
    console.log(
      'engine'.padEnd(18) +
        stages.map((s) => s.padStart(12)).join('') +
        'total s'.padStart(10) +
        'peak MiB'.padStart(10),
    );
    for (const r of rows) {
      console.log(
        r.engine.padEnd(18) +
          stages.map((s) => (r.timingsMs[s] === undefined ? '—' : String(r.timingsMs[s])).padStart(12)).join('') +
          r.seconds.toFixed(2).padStart(10) +
          Math.round(r.peakRssMiB).toString().padStart(10),
      );
    }
    console.log(
      `speed-up: ${(py.seconds / node.seconds).toFixed(2)}× (goal ≥ 2×); windows ${JSON.stringify(node.windows)}`,
    );
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const i = process.argv.indexOf('--child');
  const job =
    i >= 0 ? child(process.argv[i + 1] as string, process.argv[i + 2] as string) : run().then(() => undefined);
  job.then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
