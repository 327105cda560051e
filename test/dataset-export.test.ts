import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatasetActivities, readNpySync, writeReferenceCsv, type DatasetCard } from '../activities/dataset';
import { syntheticCampaign, writeSyntheticCampaign } from '../activities/dataset/synthetic';
import { datasetSchema } from '../schemas/dataset';

const REFERENCE_COLUMNS = ['window_start', 'window_end', 'Normal/Attack'];

describe('dataset export', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fl-dataset-export-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('formats the same CSV bytes on worker threads as in process, in row order', async () => {
    const n = 50_000;
    const ts = Float64Array.from({ length: n }, (_, i) => 1_767_225_600_000 + i * 1000);
    const lab = Uint8Array.from({ length: n }, (_, i) => (i % 97 < 10 ? 1 : 0));
    const cols = new Map([
      ['a', Float64Array.from(ts, (_, i) => Math.sin(i) * 1e-3)],
      ['b', Float64Array.from(ts, (_, i) => i * 1.1)],
    ]);
    const one = join(dir, 'one.csv');
    const many = join(dir, 'many.csv');
    const ranges = [
      { from: 0, to: 20_000 },
      { from: 30_000, to: n },
    ];
    assert.equal(await writeReferenceCsv(one, ts, 1000, lab, ['a', 'b'], { cols }, ranges, 0), 40_000);
    assert.equal(await writeReferenceCsv(many, ts, 1000, lab, ['a', 'b'], { cols }, ranges, 3), 40_000);
    const [x, y] = [await readFile(one, 'utf8'), await readFile(many, 'utf8')];
    assert.equal(x.length, y.length);
    assert.ok(x === y, 'identical bytes');
    assert.equal(x.split('\n').length, 40_002);
    // The bytes of the plain string formatting (String(v): shortest round-trip text).
    const text = (i: number, vals: string[]) =>
      `${ts[i]! - 1000},${ts[i]},${lab[i] ? 'Attack' : 'Normal'},${vals.join(',')}\n`;
    let want = 'window_start,window_end,Normal/Attack,a,b\n';
    for (const r of ranges)
      for (let i = r.from; i < r.to; i++) want += text(i, [`${cols.get('a')![i]}`, `${cols.get('b')![i]}`]);
    assert.ok(x === want, 'same bytes as String(v)');
    // Scaled float32 values: String(+v.toPrecision(8)).
    const rowMajor = Float32Array.from({ length: n * 2 }, (_, k) => Math.sin(k) * 1.7 - 0.2);
    const f32 = join(dir, 'f32.csv');
    await writeReferenceCsv(f32, ts, 1000, lab, ['a', 'b'], { rowMajor }, ranges, 2);
    want = 'window_start,window_end,Normal/Attack,a,b\n';
    for (const r of ranges)
      for (let i = r.from; i < r.to; i++)
        want += text(i, [String(+rowMajor[2 * i]!.toPrecision(8)), String(+rowMajor[2 * i + 1]!.toPrecision(8))]);
    assert.ok((await readFile(f32, 'utf8')) === want, 'float32 values as String(+v.toPrecision(8))');
  });

  it('writes npy, Arrow, a pandas-readable reference CSV and a card; no window straddles a split', async () => {
    const c = syntheticCampaign({
      baselineRows: 600,
      chaosRows: 400,
      features: 4,
      gapEvery: 97,
      faultEvery: 60,
      seed: 3,
    });
    const { tables, faultLogPath } = await writeSyntheticCampaign(dir, c);
    const cfg = datasetSchema.parse({ window: { size: 12, stride: 3 } });
    const ref = await createDatasetActivities().buildDataset({
      campaignId: 'c-export',
      dataDir: dir,
      collected: { tables, rows: 1000, features: c.names, gaps: 0, stepMs: c.stepMs },
      faultLogPath,
      dataset: cfg,
      configHash: 'abc123',
    });
    assert.deepEqual(JSON.parse(await readFile(join(ref.dir, 'features.json'), 'utf8')), c.names);
    const card = JSON.parse(await readFile(ref.cardPath, 'utf8')) as DatasetCard;
    assert.equal(card.campaignId, 'c-export');
    assert.equal(card.configHash, 'abc123');
    assert.ok(card.splits.test.windows.anomalous > 0 && card.splits.test.windows.normal > 0);
    assert.equal(card.splits.train.windows.anomalous, 0);
    assert.ok(card.cleaning.filled.length === 4);
    assert.match(await readFile(join(ref.dir, 'card.md'), 'utf8'), /# Dataset card — campaign c-export/);

    for (const split of ['train', 'val', 'test'] as const) {
      const x = readNpySync(join(ref.dir, `${split}.npy`));
      assert.deepEqual(x.shape, [ref.windows[split], 12, 4]);
      assert.equal(x.dtype, 'float32');
      assert.ok(
        x.data.every((v) => Number.isFinite(v)),
        `${split} has no NaN`,
      );
      const times = readNpySync(join(ref.dir, `${split}_times.npy`)).data;
      const ranges = card.splits[split].ranges;
      for (let k = 0; k < ref.windows[split]; k++) {
        const inside = ranges.some((r) => times[2 * k]! >= r.startMs! && times[2 * k + 1]! <= r.endMs!);
        assert.ok(inside, `${split} window ${k} lies inside one split range`);
        assert.equal(times[2 * k + 1]! - times[2 * k]!, 11 * c.stepMs);
      }
      const types = JSON.parse(await readFile(join(ref.dir, `${split}_fault_types.json`), 'utf8')) as Array<
        string | null
      >;
      const labels = readNpySync(join(ref.dir, `${split}_labels.npy`)).data;
      assert.equal(types.length, labels.length);
      types.forEach((t, k) => assert.equal(t !== null, labels[k] === 1));
    }

    // numpy and pandas read what the trainer and a researcher read
    const py = [
      'import sys, json, numpy as np, pandas as pd',
      'd = sys.argv[1]',
      'x = np.load(d + "/test.npy"); l = np.load(d + "/test_labels.npy")',
      'df = pd.read_csv(d + "/dataset.csv")',
      'print(json.dumps({"shape": list(x.shape), "dtype": str(x.dtype), "labels": int(l.sum()), "columns": list(df.columns),',
      '  "rows": len(df), "attack": int((df["Normal/Attack"] == "Attack").sum()), "nan": int(df.isna().sum().sum()),',
      '  "first": int(df["window_start"].iloc[0]), "step": int(df["window_end"].iloc[0] - df["window_start"].iloc[0])}))',
    ].join('\n');
    const out = JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, ref.dir], { encoding: 'utf8' })) as Record<
      string,
      unknown
    >;
    assert.deepEqual(out.shape, [ref.windows.test, 12, 4]);
    assert.equal(out.dtype, 'float32');
    assert.deepEqual(out.columns, [...REFERENCE_COLUMNS, ...c.names]);
    assert.equal(out.rows, 1000);
    assert.equal(out.nan, 0);
    assert.equal(out.first, c.phases.baseline.ts[0]! - c.stepMs);
    assert.equal(out.step, c.stepMs);
    const pointAttacks =
      card.splits.train.points.anomalous + card.splits.val.points.anomalous + card.splits.test.points.anomalous;
    assert.equal(out.attack, pointAttacks);
  });

  it('feeds the detector only dataset.modelFeatures while the CSV keeps every series; an empty selection is a clear error', async () => {
    const c = syntheticCampaign({ baselineRows: 300, chaosRows: 200, features: 5, faultEvery: 60, seed: 5 });
    const sub = join(dir, 'select');
    const { tables, faultLogPath } = await writeSyntheticCampaign(sub, c);
    const build = (modelFeatures: string[], id: string) =>
      createDatasetActivities().buildDataset({
        campaignId: id,
        dataDir: sub,
        collected: { tables, rows: 500, features: c.names, gaps: 0, stepMs: c.stepMs },
        faultLogPath,
        dataset: datasetSchema.parse({ window: { size: 6 }, modelFeatures }),
        configHash: 'sel',
      });
    const ref = await build(['f01', 'f0*3'], 'c-select');
    assert.deepEqual(JSON.parse(await readFile(join(ref.dir, 'features.json'), 'utf8')), ['f01', 'f03']);
    assert.deepEqual(readNpySync(join(ref.dir, 'train.npy')).shape, [ref.windows.train, 6, 2]);
    const header = (await readFile(join(ref.dir, 'dataset.csv'), 'utf8')).split('\n')[0];
    assert.equal(header, [...REFERENCE_COLUMNS, ...c.names].join(','));
    const card = JSON.parse(await readFile(ref.cardPath, 'utf8')) as DatasetCard;
    assert.deepEqual(card.scaler.features, ['f01', 'f03']);
    assert.match(await readFile(join(ref.dir, 'card.md'), 'utf8'), /detector input: 2 of 5 series/);
    await assert.rejects(
      build(['svc_*_ready_replicas'], 'c-none'),
      /dataset\.modelFeatures \[svc_\*_ready_replicas\] matches none/,
    );
  });
});
