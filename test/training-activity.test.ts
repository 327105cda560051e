import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { writeNpy } from '../activities/dataset/npy';
import { createTrainingActivities, type TrainHeartbeat } from '../activities/model/training-index';
import type { TrainInput, TrainResult } from '../activities/model/types';
import { modelSchema } from '../schemas/model';

const PYTHON = process.env.FAULTLINE_PYTHON ?? '/usr/bin/python3';
const W = 8;
const F = 4;

/** Smooth periodic windows [n, W, F] in [0.35, 0.65] (deterministic), the trainer's dataset layout. */
async function writeDataset(dir: string, n: number): Promise<void> {
  const series = (len: number, off: number): Float32Array => {
    const x = new Float32Array(len * F);
    for (let t = 0; t < len; t++)
      for (let f = 0; f < F; f++) x[t * F + f] = 0.5 + 0.15 * Math.sin((2 * Math.PI * (t + off)) / (17 + 5 * f) + f);
    return x;
  };
  const windows = (x: Float32Array, count: number): Float32Array => {
    const out = new Float32Array(count * W * F);
    for (let i = 0; i < count; i++) out.set(x.subarray(i * F, (i + W) * F), i * W * F);
    return out;
  };
  const parts = { train: n, val: Math.ceil(n / 4), test: Math.ceil(n / 4) };
  let off = 0;
  for (const [name, count] of Object.entries(parts)) {
    const x = series(count + W, off);
    off += count + W;
    await writeNpy(join(dir, `${name}.npy`), { dtype: 'float32', shape: [count, W, F], data: windows(x, count) });
    await writeNpy(join(dir, `${name}_labels.npy`), { dtype: 'uint8', shape: [count], data: new Uint8Array(count) });
  }
  await writeFile(join(dir, 'features.json'), JSON.stringify(['a', 'b', 'c', 'd']));
}

function input(dataDir: string, datasetDir: string, model: Partial<ReturnType<typeof modelSchema.parse>>): TrainInput {
  return {
    campaignId: 'c-test',
    dataDir,
    dataset: {
      dir: datasetDir,
      cardPath: join(datasetDir, 'card.json'),
      windows: { train: 0, val: 0, test: 0 },
      features: ['a', 'b', 'c', 'd'],
      windowSize: W,
    },
    model: modelSchema.parse({ threads: 1, device: 'auto', latentSize: 6, ...model }),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function losses(historyPath: string): Promise<number[]> {
  const text = await readFile(historyPath, 'utf8');
  return text
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { loss1: number }).loss1);
}

describe('training activity (python -m usad as a subprocess)', function () {
  this.timeout(180_000);
  let root: string;
  let data: string;
  const acts = createTrainingActivities({ python: PYTHON, heartbeatIntervalMs: 1_000, killGraceMs: 2_000 });
  const train = (env: MockActivityEnvironment, inp: TrainInput): Promise<TrainResult> =>
    env.run<[TrainInput], TrainResult, (i: TrainInput) => Promise<TrainResult>>((i) => acts.trainModel(i), inp);

  before(async function () {
    if (!existsSync(PYTHON)) this.skip();
    root = await mkdtemp(join(tmpdir(), 'fl-train-'));
    data = join(root, 'dataset');
    await mkdir(data, { recursive: true });
    await writeDataset(data, 600);
  });

  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('trains, heartbeats every epoch and exports ONNX on the device it reports', async () => {
    const env = new MockActivityEnvironment();
    const beats: TrainHeartbeat[] = [];
    env.on('heartbeat', (d: TrainHeartbeat) => beats.push(d));
    const res = await train(env, input(join(root, 'a'), data, { epochs: 3, batchSize: 64, patience: 0 }));
    assert.equal(res.epochs, 3);
    assert.equal(res.device, 'cpu'); // no GPU on this machine: --device auto fell back to the CPU
    for (const p of [res.onnxPath, res.checkpointPath, res.historyPath]) assert.ok(existsSync(p), p);
    assert.deepEqual([...new Set(beats.map((b) => b.epoch).filter((e) => e > 0))], [1, 2, 3]);
    assert.ok(beats.some((b) => typeof b.loss1 === 'number' && typeof b.val_loss1 === 'number' && b.device === 'cpu'));
  });

  it('a run cancelled mid-way kills the trainer and its retry resumes from the checkpoint', async () => {
    const cfg = { epochs: 12, batchSize: 16, patience: 0 };
    // uninterrupted reference run
    const full = await train(new MockActivityEnvironment(), input(join(root, 'full'), data, cfg));
    const campaign = join(root, 'b');
    const env = new MockActivityEnvironment();
    let last: TrainHeartbeat | undefined;
    env.on('heartbeat', (d: TrainHeartbeat) => {
      last = d;
      if (d.epoch >= 2) env.cancel('CANCELLED');
    });
    await assert.rejects(train(env, input(campaign, data, cfg)), (e: unknown) => e instanceof CancelledFailure);
    assert.ok(last && last.pid !== undefined);
    assert.equal(alive(last.pid), false, 'trainer process still running after cancellation');
    const stoppedAt = last.epoch;
    assert.ok(stoppedAt >= 2 && stoppedAt < cfg.epochs, `stopped at epoch ${stoppedAt}`);
    // the retry: attempt 2 with the last heartbeat's details
    const retry = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: last });
    const beats: TrainHeartbeat[] = [];
    retry.on('heartbeat', (d: TrainHeartbeat) => beats.push(d));
    const res = await train(retry, input(campaign, data, cfg));
    assert.equal(res.epochs, cfg.epochs);
    const firstNew = beats.find((b) => b.loss1 !== undefined);
    assert.ok(firstNew && firstNew.epoch > stoppedAt - 1, `retry started over at epoch ${firstNew?.epoch}`);
    // resumed training is the same computation as the uninterrupted one (same seed, RNG state in the checkpoint)
    assert.deepEqual(await losses(res.historyPath), await losses(full.historyPath));
  });
});
