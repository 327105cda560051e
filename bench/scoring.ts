/**
 * ONNX scoring throughput in Node (onnxruntime-node, CPU) on MSL-shaped USAD models (window 12,
 * 55 features → 660 inputs), batch sizes compared, beside PyTorch CPU scoring of the same exported
 * weights on the same machine and thread count. Goal: ≥ 13,200 windows/s on 2 cores (the reference's
 * PyTorch scoring, ../shared/anchors/usad-msl). Run alone: `node lib/bench/scoring.js`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsadScorer } from '../activities/model/score';

const W = 12;
const F = 55;
const DIM = W * F;
/** MSL's test set: 73,405 windows over 27 channels. */
const WINDOWS = Number(process.env.FAULTLINE_BENCH_SCORING_WINDOWS ?? 73_405);
const THREADS = Number(process.env.FAULTLINE_BENCH_THREADS ?? 2);
const BATCHES = [256, 1024, 4096, 7919, 16384];

function script(): string {
  for (const p of [
    join(__dirname, '..', '..', 'test', 'fixtures', 'model-usad-export.py'),
    join(__dirname, '..', 'test', 'fixtures', 'model-usad-export.py'),
  ]) {
    if (existsSync(p)) return p;
  }
  throw new Error('test/fixtures/model-usad-export.py not found');
}

export interface ScoringBenchRow {
  model: string;
  latent: number;
  engine: 'onnxruntime-node' | 'pytorch';
  batch: number;
  threads: number;
  windows: number;
  seconds: number;
  windowsPerSec: number;
}

export async function run(): Promise<ScoringBenchRow[]> {
  const py = '/usr/bin/python3';
  const dir = await mkdtemp(join(tmpdir(), 'fl-bench-scoring-'));
  const rows: ScoringBenchRow[] = [];
  const show = (r: ScoringBenchRow): void => {
    rows.push(r);
    console.log(
      r.model.padEnd(24) +
        r.engine.padEnd(18) +
        String(r.batch).padStart(7) +
        String(r.threads).padStart(9) +
        Math.round(r.windowsPerSec).toLocaleString('en-US').padStart(12),
    );
  };
  console.log('scoring throughput (error terms of both decoders per window, CPU)');
  console.log(
    'model'.padEnd(24) + 'engine'.padEnd(18) + 'batch'.padStart(7) + 'threads'.padStart(9) + 'windows/s'.padStart(12),
  );
  try {
    // latent 40: faultline's default; latent 1200: the reference notebook's hidden 100 × window 12
    for (const latent of [40, 1200]) {
      const out = join(dir, `z${latent}`);
      const r = spawnSync(
        py,
        [
          script(),
          '--out',
          out,
          '--window',
          String(W),
          '--features',
          String(F),
          '--latent',
          String(latent),
          '--no-data',
          '--time-torch',
          String(WINDOWS),
          '--threads',
          String(THREADS),
        ],
        { encoding: 'utf8', timeout: 600_000 },
      );
      if (r.status !== 0) throw new Error(`model export failed (needs /usr/bin/python3 with torch): ${r.stderr}`);
      const torch = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
        batch: number;
        seconds: number;
        windowsPerSec: number;
      };
      const model = `USAD W=${W} F=${F} z=${latent}`;
      show({
        model,
        latent,
        engine: 'pytorch',
        batch: torch.batch,
        threads: THREADS,
        windows: WINDOWS,
        seconds: torch.seconds,
        windowsPerSec: torch.windowsPerSec,
      });
      const data = new Float32Array(WINDOWS * DIM);
      for (let i = 0; i < data.length; i++) data[i] = Math.random();
      for (const batch of BATCHES) {
        const scorer = await UsadScorer.open(join(out, 'model.onnx'), DIM, {
          batchSize: batch,
          intraOpThreads: THREADS,
        });
        try {
          await scorer.terms(data.subarray(0, Math.min(batch, WINDOWS) * DIM)); // warm-up
          const t0 = performance.now();
          await scorer.terms(data);
          const seconds = (performance.now() - t0) / 1000;
          show({
            model,
            latent,
            engine: 'onnxruntime-node',
            batch,
            threads: THREADS,
            windows: WINDOWS,
            seconds,
            windowsPerSec: WINDOWS / seconds,
          });
        } finally {
          await scorer.close();
        }
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // Beside the other benches' outputs; the load average says how busy the shared machine was.
  const resultsDir = join(__dirname, '..', '..', 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    join(resultsDir, 'scoring.json'),
    JSON.stringify(
      { when: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, loadavg: loadavg(), rows },
      null,
      1,
    ),
  );
  return rows;
}

if (require.main === module) {
  run().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
