import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatasetActivities } from '../activities/dataset';
import { writeArrowTable } from '../activities/metrics';
import { datasetSchema } from '../schemas/dataset';
import { modelSchema } from '../schemas/model';
import type { FaultRecord } from '../schemas/fault-log';
import { mulberry32 } from '../activities/random';
import { evaluate } from '../activities/model/evaluate';
import { createReportActivities } from '../activities/report';
import {
  acAtK,
  avgAtK,
  localise,
  randomRanking,
  rankServices,
  robustScore,
  scoreCases,
  seriesOwner,
  truthRank,
  type LocalisationResults,
} from '../activities/localise';
import { exportScript, pythonTorch } from './fixtures/model-helpers';
import type { EpisodesFile } from '../activities/dataset/episodes';

const cliMain = () => join(__dirname, '..', 'cli', 'main.js');

describe('localisation: metrics, rankers', () => {
  it('AC@k and Avg@k by hand (duplicates removed, undetected = miss)', () => {
    const cases = [
      { ranking: ['a', 'b', 'c'], truth: ['a'] }, // rank 1
      { ranking: ['b', 'b', 'a'], truth: ['a'] }, // rank 2 once the duplicate b goes
      { ranking: ['c', 'b', 'd', 'e', 'a'], truth: ['a'] }, // rank 5
      { ranking: null, truth: ['a'] }, // undetected
    ];
    assert.deepEqual(cases.map(truthRank), [1, 2, 5, null]);
    assert.equal(acAtK(cases, 1), 0.25);
    assert.equal(acAtK(cases, 2), 0.5);
    assert.equal(acAtK(cases, 3), 0.5);
    assert.equal(acAtK(cases, 5), 0.75);
    // (0.25 + 0.5 + 0.5 + 0.5 + 0.75) / 5
    assert.equal(avgAtK(cases, 5), 0.5);
    const s = scoreCases(cases);
    assert.equal(s.avg5, 0.5);
    assert.ok(s.ci.avg5[0] <= 0.5 && 0.5 <= s.ci.avg5[1] && s.ci.avg5[0] < s.ci.avg5[1]);
  });

  it('a seeded random ranking over 10 services gives Avg@5 ≈ 0.30 ((1+2+3+4+5)/10/5)', () => {
    const services = Array.from({ length: 10 }, (_, i) => `s${i}`);
    const cases = Array.from({ length: 4000 }, (_, i) => ({
      ranking: randomRanking(services, 7 + i),
      truth: [services[i % 10]!],
    }));
    const avg5 = avgAtK(cases, 5);
    assert.ok(Math.abs(avg5 - 0.3) < 0.02, `Avg@5 ${avg5}`);
    assert.ok(Math.abs(acAtK(cases, 1) - 0.1) < 0.02);
    // seeded: the same seed, the same order
    assert.deepEqual(randomRanking(services, 3), randomRanking(services, 3));
  });

  it("BARO's RobustScorer by hand: paper (|x − median| / IQR) and RCAEval's variant (signed; constant series dropped)", () => {
    // normal 1..5: median 3, quartiles 2 and 4 → IQR 2
    const x = [1, 2, 3, 4, 5, 3, 9];
    assert.equal(robustScore(x, 0, 5, 7, 'paper'), 3); // |9 − 3| / 2
    assert.equal(robustScore(x, 0, 5, 7, 'rcaeval'), 3);
    const down = [1, 2, 3, 4, 5, -7, 3];
    assert.equal(robustScore(down, 0, 5, 7, 'paper'), 5); // |−7 − 3| / 2
    assert.equal(robustScore(down, 0, 5, 7, 'rcaeval'), 0); // signed: max(−5, 0)
    assert.ok(Number.isNaN(robustScore([2, 2, 2, 2, 9], 0, 4, 5, 'rcaeval')), 'constant before onset: dropped');
    assert.ok(Number.isNaN(robustScore([2, 2, 2, 2, 9], 0, 4, 5, 'paper')), 'constant before onset: dropped');
    // IQR 0 but not constant (a blip in 8 points): paper falls back to the standard deviation,
    // mean 1/8, std sqrt(7)/8; RCAEval divides by 1
    const blip = [0, 0, 0, 0, 0, 0, 0, 1, 2];
    assert.ok(Math.abs(robustScore(blip, 0, 8, 9, 'paper') - 2 / (Math.sqrt(7) / 8)) < 1e-12);
    assert.equal(robustScore(blip, 0, 8, 9, 'rcaeval'), 2);
  });

  it('owners of series: per-service columns only, node-level left out; services ranked by their best series', () => {
    assert.deepEqual(seriesOwner('svc_redis_cart_net_rx'), { service: 'redis_cart', metric: 'net_rx' });
    assert.deepEqual(seriesOwner('svc_cartservice_cpu'), { service: 'cartservice', metric: 'cpu' });
    assert.equal(seriesOwner('cpu_util'), null);
    assert.equal(seriesOwner('node_load1'), null);
    const r = rankServices(
      new Map([
        ['svc_a_cpu', 1],
        ['svc_b_mem', 5],
        ['svc_a_mem', 7],
        ['cpu_util', 100],
        ['svc_c_cpu', Number.NaN],
      ]),
      ['a', 'b', 'c', 'd'],
    );
    assert.deepEqual(r.services, ['a', 'b', 'c', 'd']);
    assert.deepEqual(r.drivers, ['svc_a_mem', 'svc_b_mem', 'svc_c_cpu', null]);
  });
});

const T0 = Date.UTC(2026, 11, 1, 0, 0, 0);
const S = 1000;
const SERVICES = ['cartservice', 'redis-cart', 'frontend', 'adservice', 'emailservice'];

describe('localisation: dataset → evaluate → localise', function () {
  let root = '';
  let built: { dir: string; saved: LocalisationResults } | undefined;
  before(function () {
    const py = pythonTorch();
    if (!py.ok) {
      console.warn(`SKIPPED: needs /usr/bin/python3 with torch to export a USAD model (${py.why})`);
      this.skip();
    }
  });
  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('ranks each injected fault’s target first from its own series (BARO), scores every ranker, times each episode', async () => {
    root = await mkdtemp(join(tmpdir(), 'fl-localise-'));
    const dir = root;
    await mkdir(join(dir, 'metrics'));
    await mkdir(join(dir, 'chaos'));
    // Five services × cpu, mem, net_rx; one node-level series that every fault moves (it must not win).
    const faults: FaultRecord[] = [];
    const spec: Array<[number, string, FaultRecord['type']]> = [
      [60, 'frontend', 'cpu-stress'], // chaos head: validation, not scored
      [150, 'cartservice', 'cpu-stress'],
      [250, 'redis-cart', 'memory-stress'],
      [350, 'adservice', 'pod-kill'],
      [450, 'emailservice', 'cpu-stress'],
    ];
    for (const [i, [s, app, type]] of spec.entries()) {
      faults.push({
        id: `f${i}`,
        campaignId: 'c1',
        type,
        target: { namespace: 'default', app, pods: [`${app}-0`] },
        params: {},
        plannedMs: T0 + 400_000 + s * S,
        appliedMs: T0 + 400_000 + s * S,
        removedMs: T0 + 400_000 + (s + 30) * S,
        status: 'removed',
      });
    }
    const active = (t: number, app: string) =>
      faults.find((f) => f.target.app === app && t >= f.appliedMs! && t < f.removedMs!)?.type;
    const tables: Record<string, string> = {};
    const rand = mulberry32(5);
    for (const [phase, t0, n] of [
      ['baseline', T0, 300],
      ['chaos', T0 + 400_000, 600],
    ] as const) {
      const ts = Float64Array.from({ length: n }, (_, i) => t0 + i * S);
      const cols: Array<{ name: string; kind: 'f64'; values: Float64Array }> = [
        { name: 'timestamp', kind: 'f64', values: ts },
        {
          name: 'cpu_util',
          kind: 'f64',
          values: Float64Array.from(
            ts,
            (t) => 0.2 + 0.01 * rand() + (faults.some((f) => t >= f.appliedMs! && t < f.removedMs!) ? 0.5 : 0),
          ),
        },
      ];
      for (const app of SERVICES) {
        const k = app.replace(/-/g, '_');
        const kind = (t: number) => (phase === 'chaos' ? active(t, app) : undefined);
        cols.push(
          {
            name: `svc_${k}_cpu`,
            kind: 'f64',
            values: Float64Array.from(ts, (t) =>
              kind(t) === 'pod-kill' ? 0 : 0.1 + 0.02 * rand() + (kind(t) === 'cpu-stress' ? 1 : 0),
            ),
          },
          {
            name: `svc_${k}_mem`,
            kind: 'f64',
            values: Float64Array.from(ts, (t) =>
              kind(t) === 'pod-kill' ? 0 : 100 + 2 * rand() + (kind(t) === 'memory-stress' ? 200 : 0),
            ),
          },
          {
            name: `svc_${k}_net_rx`,
            kind: 'f64',
            values: Float64Array.from(ts, (t) => (kind(t) === 'pod-kill' ? 0 : 50 + 5 * rand())),
          },
        );
      }
      tables[phase] = join(dir, 'metrics', `${phase}.arrow`);
      await writeArrowTable(tables[phase], cols, { stepMs: '1000' });
    }
    const logPath = join(dir, 'chaos', 'faults.jsonl');
    await writeFile(logPath, faults.map((f) => JSON.stringify(f)).join('\n') + '\n');
    const W = 5;
    const dataset = await createDatasetActivities().buildDataset({
      campaignId: 'c1',
      dataDir: dir,
      collected: { tables, rows: 900, features: [], gaps: 0, stepMs: S },
      faultLogPath: logPath,
      dataset: datasetSchema.parse({ window: { size: W, stride: 1 }, valFraction: 0.2, valChaosFraction: 0.2 }),
      configHash: 'h1',
    });
    const F = dataset.features.length;
    assert.equal(F, 16);
    const modelDir = join(dir, 'model');
    pythonTorch().run([
      exportScript(),
      '--out',
      modelDir,
      '--window',
      String(W),
      '--features',
      String(F),
      '--latent',
      '5',
      '--no-data',
    ]);
    const head = await evaluate(
      {
        campaignId: 'c1',
        dataDir: dir,
        dataset,
        trained: {
          onnxPath: join(modelDir, 'model.onnx'),
          checkpointPath: join(modelDir, 'checkpoint.pt'),
          historyPath: join(modelDir, 'history.jsonl'),
          device: 'cpu',
          epochs: 1,
          seconds: 1,
        },
        model: modelSchema.parse({}),
      },
      { iforestTrees: 20 },
    );
    const { path } = await localise({
      datasetDir: dataset.dir,
      resultsPath: head.resultsPath,
      normalMs: 60_000,
    });
    const saved = JSON.parse(await readFile(path, 'utf8')) as LocalisationResults;
    assert.equal(saved.episodes.length, 4);
    assert.equal(saved.skipped, 1, 'the validation episode is not scored');
    assert.deepEqual(saved.candidates, ['adservice', 'cartservice', 'emailservice', 'frontend', 'redis_cart']);
    assert.deepEqual(
      saved.episodes.map((e) => [e.type, e.truth]),
      [
        ['cpu-stress', ['cartservice']],
        ['memory-stress', ['redis_cart']],
        ['pod-kill', ['adservice']],
        ['cpu-stress', ['emailservice']],
      ],
    );
    // From the injection time, BARO puts the target first through the series the fault moved.
    for (const e of saved.episodes) {
      const b = e.views.injection.rankers.baro!;
      assert.equal(b.truthRank, 1, `${e.id}: ${b.top.join(', ')}`);
      assert.ok(b.drivers[0]!.startsWith(`svc_${e.truth[0]}_`));
      assert.ok(e.timeMs > 0);
    }
    const inj = saved.scores.injection.all.baro!;
    assert.equal(inj.overall!.ac1, 1);
    assert.equal(inj['cpu-stress']!.cases, 2);
    // every ranker scored, random among them; undetected episodes count as misses in the detected view
    for (const r of ['baro', 'baro-rcaeval', 'usad-attribution', 'nearest-window-attribution', 'random'] as const)
      assert.ok(saved.scores.injection.all[r]?.overall, r);
    const detected = saved.episodes.filter((e) => e.detected).length;
    const det = saved.scores.detected.all.baro!.overall!;
    assert.equal(det.cases, 4);
    assert.ok(det.ac5 <= detected / 4 + 1e-9);
    assert.equal(saved.default.name, 'baro');
    // The report reads localisation.json beside the evaluation: a section and results.json's `localisation`.
    const rep = await createReportActivities().writeReport({
      campaignId: 'c1',
      campaignName: 'localise',
      dataDir: dir,
      configHash: 'h1',
      status: 'completed',
      phases: [],
      traffic: [],
      browser: [],
      faultLogPath: logPath,
      faultsInjected: 5,
      dataset,
      evaluation: head,
    });
    const html = await readFile(rep.htmlPath, 'utf8');
    assert.match(html, /Which service is at fault/);
    assert.match(html, /Default localiser: <b>baro<\/b>/);
    assert.match(html, /<b>redis_cart<\/b>/);
    const twin = JSON.parse(await readFile(rep.resultsJsonPath, 'utf8')) as {
      sections: Record<string, string>;
      localisation: LocalisationResults | null;
    };
    assert.equal(twin.sections.localisation, 'ok');
    assert.equal(twin.localisation?.episodes.length, 4);
    built = { dir, saved };
  });

  it('exports the episodes as RCAEval cases that RCAEval reads with our ground truth; its BARO beside ours', async function () {
    if (!built) this.skip();
    const { dir, saved } = built;
    const out = join(dir, 'rcaeval');
    const cli = spawnSync(
      process.execPath,
      [cliMain(), 'dataset', 'export', dir, '--rcaeval', out, '--system', 'boutique'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /5 RCAEval cases/);
    // Our own reading of the documented layout: folder = <service>_<fault>, one underscore; time in unix s.
    const cases = readdirSync(join(out, 'boutique')).sort();
    assert.deepEqual(cases, [
      'adservice_podkill',
      'cartservice_cpustress',
      'emailservice_cpustress',
      'frontend_cpustress',
      'redis-cart_memorystress',
    ]);
    const csv = readFileSync(join(out, 'boutique', 'redis-cart_memorystress', '1', 'data.csv'), 'utf8')
      .trim()
      .split('\n');
    const header = csv[0]!.split(',');
    assert.equal(header[0], 'time');
    assert.ok(
      header.slice(1).every((h) => h.split('_').length === 2 && !h.startsWith('cpu_util')),
      header.join(),
    );
    assert.ok(header.includes('redis-cart_mem') && header.includes('adservice_netrx'));
    const t = csv.slice(1).map((l) => Number(l.split(',')[0]));
    assert.ok(
      t.every((v, i) => i === 0 || v === t[i - 1]! + 1),
      'one row per second',
    );
    const inject = Number(
      readFileSync(join(out, 'boutique', 'redis-cart_memorystress', '1', 'inject_time.txt'), 'utf8'),
    );
    assert.equal(inject, (T0 + 400_000 + 250_000) / 1000);
    // RCAEval itself (PyPI 1.8.1, in .data/rcaeval-venv: infra/setup.sh)
    const py = join(__dirname, '..', '..', '.data', 'rcaeval-venv', 'bin', 'python');
    if (!existsSync(py)) {
      console.warn(`SKIPPED the RCAEval read-back: ${py} is absent (infra/setup.sh installs RCAEval==1.8.1 there)`);
      return;
    }
    const script = join(__dirname, '..', '..', 'bench', 'rcaeval_baro.py');
    const r = spawnSync(py, [script, out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            case: string;
            service: string;
            fault: string;
            inject_time: number;
            time_is_seconds: boolean;
            ranks: string[];
          },
      );
    assert.equal(rows.length, 5);
    for (const row of rows) {
      assert.ok(row.time_is_seconds, row.case);
      // the same ground truth as ours (episodes.json)
      const ep = JSON.parse(readFileSync(join(dir, 'dataset', 'episodes.json'), 'utf8')) as EpisodesFile;
      const mine = ep.episodes.find((e) => Math.floor(e.appliedMs / 1000) === row.inject_time)!;
      assert.deepEqual([row.service, row.fault], [mine.services[0], mine.type.replace(/-/g, '')]);
    }
    // RCAEval's BARO AC@k on the four test-split cases, beside ours (injection view: RCAEval uses the true time)
    const testRows = rows.filter((row) =>
      saved.episodes.some((e) => Math.floor(e.appliedMs / 1000) === row.inject_time),
    );
    const theirs = scoreCases(testRows.map((row) => ({ ranking: row.ranks, truth: [row.service] })));
    const ours = saved.scores.injection.all.baro!.overall!;
    console.log(
      `      RCAEval BARO (PyPI 1.8.1): AC@1 ${theirs.ac1} AC@3 ${theirs.ac3} Avg@5 ${theirs.avg5}; ours (baro): AC@1 ${ours.ac1} AC@3 ${ours.ac3} Avg@5 ${ours.avg5}`,
    );
    assert.equal(theirs.cases, 4);
  });
});
