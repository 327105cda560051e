import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDatasetFromTables, readNpySync, type ScalerParams } from '../activities/dataset';
import { writeArrowTable } from '../activities/metrics';
import { datasetSchema } from '../schemas/dataset';
import type { FaultRecord } from '../schemas/fault-log';

const T0 = 1_767_225_600_000;
const S = 1000;

/** Baseline 100 points: training head in [0, 10], validation tail at 100; chaos at 1000. */
async function tables(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [phase, t0] of [
    ['baseline', T0],
    ['chaos', T0 + 120_000],
  ] as const) {
    const ts = Float64Array.from({ length: 100 }, (_, i) => t0 + i * S);
    const x = Float64Array.from(ts, (_, i) => (phase === 'chaos' ? 1000 + i : i < 80 ? (i % 11) * 1 : 100));
    const y = Float64Array.from(ts, (_, i) => (phase === 'chaos' ? -50 : i < 80 ? 2 + (i % 2) : 7));
    out[phase] = join(dir, `${phase}.arrow`);
    await writeArrowTable(out[phase], [
      { name: 'timestamp', kind: 'f64', values: ts },
      { name: 'x', kind: 'f64', values: x },
      { name: 'y', kind: 'f64', values: y },
    ]);
  }
  return out;
}

const chaosFault: FaultRecord = {
  id: 'k',
  campaignId: 'c',
  type: 'pod-kill',
  target: { namespace: 'default', app: 'frontend', pods: ['frontend-0'] },
  params: {},
  plannedMs: T0 + 150_000,
  appliedMs: T0 + 150_000,
  removedMs: T0 + 160_000,
  status: 'removed',
};

describe('dataset scaler', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fl-dataset-scaler-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('fits min-max on the normal training split only and applies it unclipped everywhere with clip: null', async () => {
    const res = await buildDatasetFromTables({
      campaignId: 'c',
      configHash: 'h',
      outDir: join(dir, 'minmax'),
      tables: await tables(dir),
      faults: [chaosFault],
      config: datasetSchema.parse({ window: { size: 5, stride: 5 }, valFraction: 0.2, scaler: 'minmax', clip: null }),
    });
    const scaler = JSON.parse(await readFile(join(res.dir, 'scaler.json'), 'utf8')) as ScalerParams;
    assert.deepEqual(scaler.features, ['x', 'y']);
    assert.deepEqual(scaler.offset, [0, 2]); // the validation tail (100, 7) and chaos (1000, −50) are unseen
    assert.deepEqual(scaler.scale, [10, 1]);
    assert.equal(scaler.fit.points, 80);
    assert.equal(scaler.fit.fromMs, T0);
    assert.equal(scaler.fit.toMs, T0 + 79_000);
    const train = readNpySync(join(res.dir, 'train.npy'));
    assert.deepEqual(train.shape, [16, 5, 2]);
    assert.ok(
      train.data.every((v) => v >= 0 && v <= 1),
      'training windows are in [0, 1]',
    );
    const val = readNpySync(join(res.dir, 'val.npy'));
    assert.equal(val.data[0], 10); // (100 − 0) / 10: not clipped
    const test = readNpySync(join(res.dir, 'test.npy'));
    assert.ok(Math.abs(test.data[0]! - (1000 + 20) / 10) < 1e-3);
  });

  it('clips scaled values to [−clip, 1 + clip] by default, fit unchanged', async () => {
    const res = await buildDatasetFromTables({
      campaignId: 'c',
      configHash: 'h',
      outDir: join(dir, 'clipped'),
      tables: await tables(dir),
      faults: [chaosFault],
      config: datasetSchema.parse({ window: { size: 5, stride: 5 }, valFraction: 0.2, scaler: 'minmax' }),
    });
    const scaler = JSON.parse(await readFile(join(res.dir, 'scaler.json'), 'utf8')) as ScalerParams;
    assert.deepEqual(scaler.offset, [0, 2]);
    assert.deepEqual(scaler.clip, [-1, 2]);
    const val = readNpySync(join(res.dir, 'val.npy'));
    assert.equal(val.data[0], 2); // (100 − 0) / 10 = 10, clipped to 1 + 1
    const test = readNpySync(join(res.dir, 'test.npy'));
    assert.ok(test.data.every((v) => v >= -1 && v <= 2));
  });

  it('fits a standard scaler the same way (population std of normal training points)', async () => {
    const res = await buildDatasetFromTables({
      campaignId: 'c',
      configHash: 'h',
      outDir: join(dir, 'standard'),
      tables: await tables(dir),
      faults: [chaosFault],
      config: datasetSchema.parse({ window: { size: 5, stride: 5 }, scaler: 'standard' }),
    });
    const xs = Array.from({ length: 80 }, (_, i) => i % 11);
    const mean = xs.reduce((a, b) => a + b, 0) / 80;
    const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / 80);
    assert.ok(Math.abs(res.card.scaler.offset[0]! - mean) < 1e-12);
    assert.ok(Math.abs(res.card.scaler.scale[0]! - std) < 1e-12);
    assert.equal(res.card.scaler.offset[1], 2.5);
    assert.equal(res.card.scaler.scale[1], 0.5);
  });
});
