/**
 * NASA MSL (27 channels, one model per channel, window 12): the detector suite (USAD on the telemetry value, the
 * nearest-normal-window detector, both after causal stream normalisation, and their ensemble, the default) beside
 * the reference USAD port (../shared/anchors/usad-msl/usad_reference.py), the earlier all-features settings and
 * random scores, in one run; ROC-AUC, PR-AUC, VUS-PR, best F1 and F1 at a label-free threshold, per channel, as the
 * mean over channels and joined (point-adjusted F1 only beside random scores); per-epoch training time paired with
 * the reference loop at its hyperparameters; ONNX scoring in Node (onnxruntime-node) vs PyTorch; the run's wall
 * time per phase. The Python half is bench/msl_bench.py (one phase per call; every metric is computed by its
 * summary phase from the saved scores). Writes bench/results/msl.json.
 * Run alone: `node lib/bench/msl.js` (env: FAULTLINE_PYTHON, FAULTLINE_MSL_DIR, FAULTLINE_BENCH_THREADS,
 * FAULTLINE_MSL_CHANNELS for a subset, FAULTLINE_MSL_REF_EPOCHS, FAULTLINE_MSL_PHASES, FAULTLINE_MSL_WORK to keep
 * and reuse a work dir across calls, e.g. one phase at a time; FAULTLINE_MSL_OURS_ARGS: extra msl_bench.py flags
 * for the "ours" phase, space-separated, e.g. "--all-features 0").
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsadScorer, combineTerms } from '../activities/model/score';

const ROOT =
  [join(__dirname, '..', '..'), join(__dirname, '..')].find((p) => existsSync(join(p, 'bench', 'msl_bench.py'))) ??
  resolve('.');
const PYTHON = process.env.FAULTLINE_PYTHON ?? '/usr/bin/python3';
const THREADS = Number(process.env.FAULTLINE_BENCH_THREADS ?? 2);
const DATA = process.env.FAULTLINE_MSL_DIR ?? join(ROOT, '..', 'shared', 'datasets', 'msl');

interface OnnxChannel {
  chan: string;
  dim: number;
  n: number;
}

export interface NodeScoring {
  model: string;
  engine: 'onnxruntime-node';
  threads: number;
  batch: number;
  windows: number;
  seconds: number;
  windowsPerSec: number;
  /** max |score_onnx − score_torch| over all windows (the trainer's PyTorch scores of the same model) */
  maxAbsDiffVsTorch: number;
  /** max |score_onnx − score_torch| / |score_torch|: float32 rounding on unclipped inputs' large scores */
  maxRelDiffVsTorch: number;
}

function python(args: string[], work: string): Promise<void> {
  // nice: the benchmark shares the machine's two cores with other work
  const child = spawn(
    'nice',
    [
      '-n',
      '10',
      PYTHON,
      join(ROOT, 'bench', 'msl_bench.py'),
      ...args,
      '--work',
      work,
      '--data',
      DATA,
      '--threads',
      String(THREADS),
    ],
    {
      env: { ...process.env, PYTHONPATH: join(ROOT, 'workers', 'training', 'usad') },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  return new Promise((res, rej) => {
    child.once('error', rej);
    child.once('close', (code) =>
      code === 0 ? res() : rej(new Error(`msl_bench.py ${args.join(' ')} exited ${code}`)),
    );
  });
}

async function scoreOnnx(dir: string, chans: OnnxChannel[], model: string, batch: number): Promise<NodeScoring> {
  let seconds = 0;
  let windows = 0;
  let maxDiff = 0;
  let maxRel = 0;
  for (const c of chans) {
    const d = join(dir, c.chan);
    const buf = await readFile(join(d, 'test.f32'));
    const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    const tb = await readFile(join(d, 'torch_scores.f64'));
    const torch = new Float64Array(tb.buffer.slice(tb.byteOffset, tb.byteOffset + tb.length));
    const scorer = await UsadScorer.open(join(d, 'model.onnx'), c.dim, { intraOpThreads: THREADS, batchSize: batch });
    const t0 = process.hrtime.bigint();
    const s = combineTerms(await scorer.terms(x), 0.5, 0.5);
    seconds += Number(process.hrtime.bigint() - t0) / 1e9;
    windows += s.length;
    await scorer.close();
    for (let i = 0; i < s.length; i++) {
      const d = Math.abs(s[i]! - torch[i]!);
      maxDiff = Math.max(maxDiff, d);
      maxRel = Math.max(maxRel, d / Math.max(Math.abs(torch[i]!), 1e-12));
    }
  }
  return {
    model,
    engine: 'onnxruntime-node',
    threads: THREADS,
    batch,
    windows,
    seconds,
    windowsPerSec: windows / seconds,
    maxAbsDiffVsTorch: maxDiff,
    maxRelDiffVsTorch: maxRel,
  };
}

export async function run(): Promise<unknown> {
  const work = process.env.FAULTLINE_MSL_WORK ?? (await mkdtemp(join(tmpdir(), 'fl-bench-msl-')));
  await mkdir(work, { recursive: true });
  const phases = (process.env.FAULTLINE_MSL_PHASES ?? 'ours,random,baselines,timing,reference')
    .split(',')
    .filter((p) => p); // '' = summary only
  const extra = process.env.FAULTLINE_MSL_CHANNELS ? ['--channels', process.env.FAULTLINE_MSL_CHANNELS] : [];
  const refEpochs = process.env.FAULTLINE_MSL_REF_EPOCHS ?? '30';
  const node: NodeScoring[] = [];
  // wall seconds of each phase of this call, kept beside earlier calls' on the same work dir (the MSL run time)
  const wallsPath = join(work, 'phase_walls.json');
  const walls = existsSync(wallsPath)
    ? (JSON.parse(await readFile(wallsPath, 'utf8')) as Record<string, { seconds: number; at: string }>)
    : {};
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = process.hrtime.bigint();
    const r = await f();
    walls[name] = { seconds: Number(process.hrtime.bigint() - t0) / 1e9, at: new Date().toISOString() };
    await writeFile(wallsPath, JSON.stringify(walls, null, 1));
    return r;
  };
  try {
    for (const phase of phases) {
      const args = ['--phase', phase, ...extra];
      if (phase === 'reference') args.push('--ref-epochs', refEpochs);
      if (phase === 'ours') args.push(...(process.env.FAULTLINE_MSL_OURS_ARGS ?? '').split(' ').filter((x) => x));
      await timed(phase, () => python(args, work));
    }
    // ONNX scoring in Node of every model set the Python phases exported (this call's or an earlier one's)
    for (const phase of ['ours', 'timing']) {
      const path = join(work, `${phase}.json`);
      if (!existsSync(path)) continue;
      const res = JSON.parse(await readFile(path, 'utf8')) as { onnx_channels: OnnxChannel[] };
      if (res.onnx_channels.length === 0) continue;
      const label =
        phase === 'ours'
          ? 'faultline MSL USAD models (telemetry value and its first difference, W=12, F=2, z=40)'
          : 'reference shape (W=12, F=55, z=1200)';
      for (const batch of [1024, 8192]) {
        node.push(
          await timed(`node_onnx_${phase}_${batch}`, () =>
            scoreOnnx(join(work, phase), res.onnx_channels, label, batch),
          ),
        );
      }
    }
    await writeFile(join(work, 'node.json'), JSON.stringify(node, null, 1));
    const out = join(ROOT, 'bench', 'results', 'msl.json');
    await mkdir(join(ROOT, 'bench', 'results'), { recursive: true });
    await timed('summary', () => python(['--phase', 'summary', '--out', out, '--carry', out], work)); // keeps earlier ablation sections
    const summary = JSON.parse(await readFile(out, 'utf8')) as {
      default_detector: unknown;
      headline: unknown;
      comparisons: unknown;
    };
    return {
      default_detector: summary.default_detector,
      headline: summary.headline,
      comparisons: summary.comparisons,
      results: out,
    };
  } finally {
    if (!process.env.FAULTLINE_BENCH_KEEP && !process.env.FAULTLINE_MSL_WORK)
      await rm(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  run().then(
    (r) => console.log(JSON.stringify(r, null, 1)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
