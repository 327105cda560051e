import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createDatasetActivities,
  labelPoints,
  parseFaultLog,
  readFaultRecords,
  readNpySync,
} from '../activities/dataset';
import { readArrowTable, writeArrowTable } from '../activities/metrics';
import { datasetSchema } from '../schemas/dataset';
import type { FaultRecord } from '../schemas/fault-log';
import type { EpisodesFile } from '../activities/dataset/episodes';

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const S = 1000;
const grid = (from: number, n: number) => Float64Array.from({ length: n }, (_, i) => from + i * S);

function fault(id: string, type: FaultRecord['type'], times: Partial<FaultRecord>): FaultRecord {
  return {
    id,
    campaignId: 'c1',
    type,
    target: { namespace: 'default', app: 'cartservice', pods: ['cartservice-0'] },
    params: {},
    plannedMs: times.appliedMs ?? T0,
    status: times.appliedMs === undefined ? 'rejected' : 'removed',
    ...times,
  };
}

// Baseline: T0 + [0, 100) s; chaos: T0 + [200, 300) s. Margin 5 s.
const FAULTS: FaultRecord[] = [
  // on the grid; recovery observed → [210, 214.5 + 5) → points 210..219
  fault('a', 'pod-kill', { appliedMs: T0 + 210_000, removedMs: T0 + 212_000, recoveredMs: T0 + 214_500 }),
  // between grid points; no recovery observed → removed + margin: [230.5, 245) → 231..244
  fault('b', 'cpu-stress', { appliedMs: T0 + 230_500, removedMs: T0 + 240_000 }),
  // never applied → ignored
  fault('c', 'memory-stress', {}),
  // overlaps b: [242, 251 + 5) → 242..255
  fault('d', 'network-delay', { appliedMs: T0 + 242_000, removedMs: T0 + 250_000, recoveredMs: T0 + 251_000 }),
  // never removed nor recovered → to the end of the data: 290..299
  fault('e', 'http-abort', { appliedMs: T0 + 290_000 }),
  // inside the baseline window: the baseline stays normal by construction
  fault('f', 'pod-kill', { appliedMs: T0 + 50_000, removedMs: T0 + 52_000, recoveredMs: T0 + 53_000 }),
];

function expected(): Array<string | null> {
  const out: Array<string | null> = Array.from({ length: 200 }, () => null);
  const set = (from: number, to: number, t: string) => {
    for (let s = from; s <= to; s++) {
      const i = 100 + (s - 200);
      out[i] = out[i] ? `${out[i]}+${t}` : t;
    }
  };
  set(210, 219, 'pod-kill');
  set(242, 255, 'network-delay'); // vocabulary order: network-delay before cpu-stress
  set(231, 244, 'cpu-stress');
  set(290, 299, 'http-abort');
  return out;
}

describe('dataset labels', () => {
  it('labels points exactly from applied until recovery (or removal) plus the margin', () => {
    const ts = new Float64Array([...grid(T0, 100), ...grid(T0 + 200_000, 100)]);
    const l = labelPoints(ts, FAULTS, 5000, { from: 100, to: 200 });
    const want = expected();
    for (let i = 0; i < ts.length; i++) {
      assert.equal(l.isAnomaly[i], want[i] ? 1 : 0, `point ${i} (t=${ts[i]! - T0} ms)`);
    }
    assert.equal(l.applied, 5);
    assert.equal(l.ignored, 1);
    // the boundaries themselves
    const at = (s: number) => l.isAnomaly[100 + s - 200];
    assert.deepEqual([at(209), at(210), at(219), at(220)], [0, 1, 1, 0]);
    assert.deepEqual([at(230), at(231), at(244), at(255), at(256)], [0, 1, 1, 1, 0]);
    assert.equal(
      l.isAnomaly.subarray(0, 100).reduce((a, b) => a + b, 0),
      0,
      'baseline is normal',
    );
  });

  it('folds an event log (partial lines per fault id) into records', () => {
    const text = [
      JSON.stringify({
        id: 'x',
        campaignId: 'c',
        type: 'pod-kill',
        target: { namespace: 'd', app: 'a', pods: [] },
        params: {},
        plannedMs: 1,
        status: 'planned',
      }),
      JSON.stringify({ id: 'x', appliedMs: 5, status: 'applied' }),
      JSON.stringify({ id: 'x', removedMs: 9, recoveredMs: 12, status: 'removed' }),
      '{"id": "torn',
    ].join('\n');
    const recs = parseFaultLog(text);
    assert.equal(recs.length, 1);
    assert.deepEqual(
      [recs[0]!.appliedMs, recs[0]!.removedMs, recs[0]!.recoveredMs, recs[0]!.status],
      [5, 9, 12, 'removed'],
    );
  });

  it("reads the chaos engine's event log (planned/applied/removed/recovered lines)", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fl-dataset-events-'));
    try {
      const target = { namespace: 'default', app: 'cartservice', pods: ['cartservice-0'] };
      const lines = [
        { ev: 'campaign', ts: T0, campaignId: 'c1', targetKind: 'local' },
        {
          ev: 'planned',
          ts: T0 + 1,
          id: 'a',
          campaignId: 'c1',
          type: 'pod-kill',
          target,
          params: {},
          plannedMs: T0 + 5,
          plannedEndMs: T0 + 9,
        },
        { ev: 'applied', ts: T0 + 210_000, id: 'a' },
        { ev: 'removed', ts: T0 + 212_000, id: 'a' },
        { ev: 'recovered', ts: T0 + 214_500, id: 'a' },
      ];
      const path = join(dir, 'faults.jsonl');
      await writeFile(path, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
      const recs = await readFaultRecords(path);
      assert.equal(recs.length, 1);
      assert.deepEqual(
        [recs[0]!.type, recs[0]!.appliedMs, recs[0]!.removedMs, recs[0]!.recoveredMs],
        ['pod-kill', T0 + 210_000, T0 + 212_000, T0 + 214_500],
      );
      const ts = new Float64Array([...grid(T0, 100), ...grid(T0 + 200_000, 100)]);
      const l = labelPoints(ts, recs, 5000, { from: 100, to: 200 });
      assert.deepEqual(
        Array.from(l.isAnomaly),
        expected().map((w) => (w === 'pod-kill' ? 1 : 0)),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('buildDataset writes the same point labels and fault types, from the JSONL log', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fl-dataset-labels-'));
    try {
      await mkdir(join(dir, 'metrics'));
      await mkdir(join(dir, 'chaos'));
      const tables: Record<string, string> = {};
      for (const [phase, t0] of [
        ['baseline', T0],
        ['chaos', T0 + 200_000],
      ] as const) {
        const ts = grid(t0, 100);
        const a = Float64Array.from(ts, (_, i) => Math.sin(i / 5) + (phase === 'chaos' ? 1 : 0));
        const b = Float64Array.from(ts, (_, i) => (i * 7) % 11);
        tables[phase] = join(dir, 'metrics', `${phase}.arrow`);
        await writeArrowTable(
          tables[phase],
          [
            { name: 'timestamp', kind: 'f64', values: ts },
            { name: 'cpu_util', kind: 'f64', values: a },
            { name: 'mem_util', kind: 'f64', values: b },
          ],
          { stepMs: '1000' },
        );
      }
      const logPath = join(dir, 'chaos', 'faults.jsonl');
      await writeFile(logPath, FAULTS.map((f) => JSON.stringify(f)).join('\n') + '\n');
      const { buildDataset } = createDatasetActivities();
      const ref = await buildDataset({
        campaignId: 'c1',
        dataDir: dir,
        collected: { tables, rows: 200, features: ['cpu_util', 'mem_util'], gaps: 0, stepMs: S },
        faultLogPath: logPath,
        dataset: datasetSchema.parse({ window: { size: 4, stride: 1 }, valFraction: 0.2, valChaosFraction: 0.2 }),
        configHash: 'h1',
      });
      const points = await readArrowTable(join(ref.dir, 'points.arrow'));
      const want = expected();
      assert.deepEqual(
        Array.from(points.columns.get('is_anomaly')!),
        want.map((w) => (w ? 1 : 0)),
      );
      assert.deepEqual(points.strings.get('fault_type'), want);
      // window labels ('any'): the test split starts at chaos point 20 (s = 220)
      const times = readNpySync(join(ref.dir, 'test_times.npy'));
      const labels = readNpySync(join(ref.dir, 'test_labels.npy'));
      assert.deepEqual(times.shape, [ref.windows.test, 2]);
      for (let k = 0; k < ref.windows.test; k++) {
        const s0 = (times.data[2 * k]! - T0) / S;
        let any = 0;
        for (let s = s0; s < s0 + 4; s++) any |= want[100 + s - 200] ? 1 : 0;
        assert.equal(labels.data[k], any, `test window starting at ${s0}`);
      }
      // episodes.json: one per applied fault, in time order, with the windows it labelled (by hand:
      // val = 17 baseline-tail windows then chaos starts 200..216; test starts 220..296; a window
      // starting at s meets points s..s+3)
      const eps = JSON.parse(await readFile(join(ref.dir, 'episodes.json'), 'utf8')) as EpisodesFile;
      assert.deepEqual(
        eps.episodes.map((e) => [e.id, e.type, e.services, e.windows]),
        [
          ['f', 'pod-kill', ['cartservice'], {}], // in the baseline: labels nothing
          ['a', 'pod-kill', ['cartservice'], { val: [24, 34] }], // points 210..219 → starts 207..216
          ['b', 'cpu-stress', ['cartservice'], { test: [8, 25] }], // 231..244 → 228..244
          ['d', 'network-delay', ['cartservice'], { test: [19, 36] }], // 242..255 → 239..255
          ['e', 'http-abort', ['cartservice'], { test: [67, 77] }], // 290..299 → 287..296
        ],
      );
      assert.equal(eps.episodes[1]!.appliedMs, T0 + 210_000);
      assert.equal(eps.episodes[1]!.endMs, T0 + 219_500);
      assert.equal(eps.episodes[4]!.endMs, null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
