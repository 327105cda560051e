import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDatasetFromTables, cleanColumns, DatasetError } from '../activities/dataset';
import { readArrowTable, writeArrowTable } from '../activities/metrics';
import { datasetSchema } from '../schemas/dataset';

const T0 = 1_767_225_600_000;
const S = 1000;

describe('dataset cleaning', () => {
  it('drops empty and constant series, fills short gaps linearly inside and with the nearest value at phase edges', () => {
    const ts = Float64Array.from({ length: 20 }, (_, i) => T0 + i * S);
    const segs = [
      { name: 'baseline', from: 0, to: 10 },
      { name: 'chaos', from: 10, to: 20 },
    ];
    const v = Float64Array.from({ length: 20 }, (_, i) => i);
    v[3] = NaN;
    v[4] = NaN; // interior gap of 2 → 3, 4
    v[9] = NaN; // edge gap at the end of the baseline → 8 (never interpolated across phases)
    v[10] = Infinity; // edge gap at the start of chaos → 11
    const cols = new Map([
      ['x', v],
      ['empty', new Float64Array(20).fill(NaN)],
      ['flat', new Float64Array(20).fill(3)],
    ]);
    const { names, report } = cleanColumns(ts, ['x', 'empty', 'flat'], cols, segs, 2);
    assert.deepEqual(names, ['x']);
    assert.deepEqual(
      report.dropped.map((d) => [d.name, d.reason]),
      [
        ['empty', 'empty'],
        ['flat', 'constant'],
      ],
    );
    assert.deepEqual(report.filled, [{ name: 'x', gaps: 3, points: 4, edgePoints: 2 }]);
    assert.deepEqual([v[3], v[4], v[9], v[10]], [3, 4, 8, 11]);
  });

  it('never fills a gap from a neighbour across the train/validation boundary', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fl-dataset-split-gap-'));
    try {
      const ts = Float64Array.from({ length: 100 }, (_, i) => T0 + i * S);
      const v = Float64Array.from(ts, (_, i) => i * 10);
      v.fill(NaN, 78, 82); // train ends at point 80 (valFraction 0.2)
      const path = join(dir, 'baseline.arrow');
      await writeArrowTable(path, [
        { name: 'timestamp', kind: 'f64', values: ts },
        { name: 'x', kind: 'f64', values: v },
      ]);
      const res = await buildDatasetFromTables({
        campaignId: 'c',
        configHash: 'h',
        outDir: join(dir, 'out'),
        tables: { baseline: path },
        faults: [],
        config: datasetSchema.parse({ maxGapFill: '5s', valFraction: 0.2, window: { size: 4 } }),
      });
      const x = (await readArrowTable(join(res.dir, 'points.arrow'))).columns.get('x')!;
      assert.deepEqual(Array.from(x.subarray(77, 83)), [770, 770, 770, 820, 820, 820]);
      assert.equal(res.card.scaler.stats['x']?.max, 770); // the filled training points, not an interpolation towards 820
      assert.equal(res.windows.test, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails naming the series and time range when a gap longer than maxGapFill would leave NaN', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fl-dataset-clean-'));
    try {
      const tables: Record<string, string> = {};
      for (const [phase, t0] of [
        ['baseline', T0],
        ['chaos', T0 + 120_000],
      ] as const) {
        const ts = Float64Array.from({ length: 100 }, (_, i) => t0 + i * S);
        const ok = Float64Array.from(ts, (_, i) => Math.cos(i));
        const holey = Float64Array.from(ts, (_, i) => i % 7);
        if (phase === 'chaos') holey.fill(NaN, 40, 52); // 12 s with no sample; maxGapFill 5 s
        tables[phase] = join(dir, `${phase}.arrow`);
        await writeArrowTable(tables[phase], [
          { name: 'timestamp', kind: 'f64', values: ts },
          { name: 'net_rx_mbps', kind: 'f64', values: ok },
          { name: 'svc_cartservice_latency_p95', kind: 'f64', values: holey },
        ]);
      }
      const args = { campaignId: 'c', configHash: 'h', outDir: join(dir, 'out'), tables, faults: [] };
      await assert.rejects(
        buildDatasetFromTables({ ...args, config: datasetSchema.parse({ maxGapFill: '5s' }) }),
        (err: unknown) => {
          assert.ok(err instanceof DatasetError);
          assert.equal(err.type, 'DatasetNaNRemains');
          assert.match(err.message, /NaN would remain/);
          assert.match(err.message, /svc_cartservice_latency_p95/);
          const from = new Date(T0 + 160_000).toISOString();
          const to = new Date(T0 + 171_000).toISOString();
          assert.ok(err.message.includes(`${from} .. ${to} (12 points`), err.message);
          assert.doesNotMatch(err.message, /net_rx_mbps/);
          return true;
        },
      );
      // drop-series: the same input builds, and the card says what was dropped and why
      const res = await buildDatasetFromTables({
        ...args,
        config: datasetSchema.parse({ maxGapFill: '5s', onLongGap: 'drop-series' }),
      });
      assert.deepEqual(res.features, ['net_rx_mbps']);
      assert.equal(res.card.cleaning.dropped[0]?.name, 'svc_cartservice_latency_p95');
      assert.equal(res.card.cleaning.dropped[0]?.reason, 'long-gap');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
