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
import { callGraphFromManifest, downstreamOf } from '../activities/localise/call-graph';
import {
  directedScore,
  normalPoints,
  symptomWalk,
  SYMPTOMS,
  DEFAULT_SYMPTOM_WALK,
  trainSpreads,
} from '../activities/localise/symptom-walk';
import type { EpisodesFile } from '../activities/dataset/episodes';
import { removeCommonMode } from '../activities/localise/common-mode';

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

describe('localisation: faultline (own symptoms, directed, then the call-graph walk)', () => {
  it("reads Online Boutique's call graph from its manifest's *_ADDR env vars", () => {
    const g = callGraphFromManifest();
    assert.deepEqual(g['checkoutservice'], [
      'cartservice',
      'currencyservice',
      'emailservice',
      'paymentservice',
      'productcatalogservice',
      'shippingservice',
    ]);
    assert.deepEqual(g['cartservice'], ['redis_cart']);
    assert.deepEqual(g['currencyservice'], []);
    assert.ok(downstreamOf(g, 'frontend').has('redis_cart'), 'frontend → cartservice → redis-cart');
    assert.throws(() => callGraphFromManifest('/nonexistent.yaml'), /cannot read the manifest \/nonexistent\.yaml/);
  });

  it('scores a series in the direction a fault pushes it, against max(IQR, the metric floor)', () => {
    const o = { ...DEFAULT_SYMPTOM_WALK, sustain: 1 }; // BARO's maximum; the default asks 3 points
    const flat = [...Array<number>(10).fill(0.001), 0.001, 0.004, 0.001];
    // a quiet service's p95 flat in one bucket, then a 3 ms blip: not an outlier (floor 25 ms)
    assert.ok(directedScore(flat, 0, 10, 13, SYMPTOMS['latency_p95']!, o) < 1);
    // a 300 ms delay is
    assert.ok(directedScore([...flat.slice(0, 10), 0.3, 0.3], 0, 10, 12, SYMPTOMS['latency_p95']!, o) > 10);
    // readiness counts downwards only; one pod fewer is 100
    const ready = [1, 1, 1, 1, 0, 1];
    assert.equal(directedScore(ready, 0, 4, 6, SYMPTOMS['ready_replicas']!, o), 100);
    assert.ok(directedScore([1, 1, 1, 1, 2, 2], 0, 4, 6, SYMPTOMS['ready_replicas']!, o) <= 0);
    // CPU counts upwards only (a caller starved of traffic burns less: not a symptom)
    assert.ok(directedScore([0.2, 0.21, 0.2, 0.19, 0.05], 0, 4, 5, SYMPTOMS['cpu']!, o) <= 0);
    // sustain 3: one high sample of a loaded host is no fault, three are
    const cpu = (...fault: number[]) =>
      directedScore([0.1, 0.12, 0.1, 0.11, ...fault], 0, 4, 4 + fault.length, SYMPTOMS['cpu']!, DEFAULT_SYMPTOM_WALK);
    assert.ok(cpu(0.9, 0.1, 0.11, 0.1) < 1);
    assert.ok(cpu(0.9, 0.8, 0.85, 0.1) > 50);
    // a p95 of 0 means no call completed: skipped, not a drop to 0 nor a normal level
    assert.ok(Number.isNaN(directedScore([0, 0, 0, 0, 0.3], 0, 4, 5, SYMPTOMS['client_p95']!, o)));
    // the training split's spread widens a noisy series' scale
    const noisy = [0.2, 0.2, 0.2, 0.2, 0.5];
    assert.ok(directedScore(noisy, 0, 4, 5, SYMPTOMS['client_p95']!, o) > 10);
    assert.ok(directedScore(noisy, 0, 4, 5, SYMPTOMS['client_p95']!, o, 0.3) <= 1);
  });

  it('looks further back for a normal period when the previous fault outlasted the gap (overlapping episodes)', () => {
    const ts = Array.from({ length: 30 }, (_, i) => i * 1000);
    // the previous fault [8 s, 20 s) ends after this one's onset (16 s): no gap between them
    const eps = [
      { appliedMs: 8000, endMs: 20_000 },
      { appliedMs: 16_000, endMs: 24_000 },
    ];
    assert.deepEqual(normalPoints(ts, 16, 16, eps, 5), [3, 4, 5, 6, 7]);
    assert.equal(normalPoints(ts, 10, 16, eps, 5), undefined, 'a gap of 6 points is used as it is');
    // the kill's pod churn scores against the points before the earlier fault
    const churn = ts.map((t) => (t >= 16_000 && t < 24_000 ? 1 : 0));
    const cols = new Map([['svc_currencyservice_pods_created', churn]]);
    const r = symptomWalk(
      cols,
      16,
      16,
      24,
      ['cartservice', 'currencyservice'],
      {},
      DEFAULT_SYMPTOM_WALK,
      new Map(),
      normalPoints(ts, 16, 16, eps, 5),
    );
    assert.deepEqual(r.roots, ['currencyservice']);
    assert.deepEqual(symptomWalk(cols, 16, 16, 24, ['cartservice', 'currencyservice'], {}).roots, []);
  });

  it('puts the anomalous service none of whose dependencies is anomalous first: a delay at currency, not its callers', () => {
    const graph = {
      frontend: ['checkoutservice', 'currencyservice'],
      checkoutservice: ['currencyservice'],
      currencyservice: [],
    };
    const n = 40;
    const step = (base: number, jump: number, noise = 0.002) =>
      Float64Array.from({ length: n }, (_, t) => base + (t >= 30 ? jump : 0) + noise * ((t * 7) % 5));
    const cols = new Map<string, Float64Array>([
      // every caller's own latency rises more than the root's as-seen-by-callers latency: a score ranking
      // alone would name the frontend
      ['svc_frontend_latency_p95', step(0.05, 0.9)],
      ['svc_checkoutservice_latency_p95', step(0.05, 0.6)],
      ['svc_currencyservice_client_p95', step(0.002, 0.3)],
      ['svc_currencyservice_latency_p95', step(0.001, 0)],
      // traffic and CPU of the callers' dependencies fall: not symptoms
      ['svc_currencyservice_request_rate', step(200, -150, 5)],
      ['svc_currencyservice_cpu', step(0.05, -0.04)],
      ['cpu_util', step(0.3, 0.5)],
    ]);
    const cands = ['checkoutservice', 'currencyservice', 'frontend'];
    const r = symptomWalk(cols, 0, 30, 40, cands, graph);
    assert.deepEqual(r.anomalous.sort(), cands);
    assert.deepEqual(r.roots, ['currencyservice']);
    assert.deepEqual(r.services, ['currencyservice', 'frontend', 'checkoutservice']);
    assert.equal(r.drivers[0], 'svc_currencyservice_client_p95');
    // without the call graph the walk has nothing to climb: the biggest score wins
    assert.equal(symptomWalk(cols, 0, 30, 40, cands, {}).services[0], 'frontend');

    // a memory stress at checkout while currency's latency (as its callers see it) also jumps: under `explain`
    // an anomalous dependency explains away only checkout's latency, not its own memory, so checkout stays a
    // root; under `strict` currency's anomaly takes checkout out of the roots
    const stress = new Map<string, Float64Array>([
      ['svc_checkoutservice_mem', step(100, 256, 1)],
      ['svc_checkoutservice_latency_p95', step(0.05, 0.5)],
      ['svc_currencyservice_client_p95', step(0.01, 0.5)],
    ]);
    assert.deepEqual(symptomWalk(stress, 0, 30, 40, cands, graph).roots, ['checkoutservice', 'currencyservice']);
    assert.deepEqual(symptomWalk(stress, 0, 30, 40, cands, graph, { ...DEFAULT_SYMPTOM_WALK, walk: 'strict' }).roots, [
      'currencyservice',
    ]);
  });
  it("removes the host's common part of the client-side latencies: a delay stands out of a host-wide squeeze", () => {
    const n = 60;
    const svcs = ['adservice', 'cartservice', 'currencyservice', 'paymentservice', 'shippingservice'];
    // every caller waits for the same busy cores: from t = 20 to 40 the whole host adds 0–0.9 s to every
    // service's client-side p95 (a noisy squeeze, the same for all), and from 50 a 0.3 s delay hits currency
    const host = (t: number) => (t >= 20 && t < 40 ? 0.9 * (((t * 7) % 10) / 10) : 0);
    const cols = new Map<string, Float64Array>(
      svcs.map((s, i) => [
        `svc_${s}_client_p95`,
        Float64Array.from({ length: n }, (_, t) =>
          // paymentservice is called rarely: no completed call (p95 0) on most points
          s === 'paymentservice' && t % 4 !== 0
            ? 0
            : 0.01 + 0.002 * i + host(t) + (s === 'currencyservice' && t >= 50 ? 0.3 : 0) + 0.001 * ((t * 3) % 4),
        ),
      ]),
    );
    const cm = removeCommonMode(cols, ['client_p95']);
    const cur = cm.get('svc_currencyservice_client_p95')!;
    // the squeeze is gone (each point minus the services' median), the delay is not
    assert.ok(Math.abs((cur[30] as number) - (cur[10] as number)) < 0.01);
    assert.ok((cur[55] as number) - (cur[10] as number) > 0.25);
    // unmeasured points stay missing and do not enter the median
    assert.ok(Number.isNaN(cm.get('svc_paymentservice_client_p95')![1]));
    assert.ok(Number.isFinite(cm.get('svc_paymentservice_client_p95')![4]));
    // other metrics are left as they are; one service alone has no common part
    const one = new Map([['svc_frontend_client_p95', Float64Array.of(0.2, 0.3)]]);
    assert.equal(
      removeCommonMode(one, ['client_p95']).get('svc_frontend_client_p95'),
      one.get('svc_frontend_client_p95'),
    );

    // scored against the training spread the squeeze made (t < 40 is the training split), the delay is lost
    // in the raw series and found in the common-mode-removed one
    const walk = (c: ReadonlyMap<string, ArrayLike<number>>, o = DEFAULT_SYMPTOM_WALK) =>
      symptomWalk(
        c,
        40,
        50,
        60,
        svcs,
        {},
        o,
        trainSpreads(c, (i) => i < 40, n, o),
      );
    assert.deepEqual(walk(cols, { ...DEFAULT_SYMPTOM_WALK, commonMode: [] }).anomalous, []);
    const r = walk(cm);
    assert.deepEqual(r.roots, ['currencyservice']);
    assert.equal(r.drivers[0], 'svc_currencyservice_client_p95');
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

  it('ranks each injected fault’s target first from its own series (faultline, BARO, the trailing z detector’s attribution), scores every ranker, times each; dataset localise redoes it', async () => {
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
          {
            // kube-state-metrics' churn: the replacement pod of a kill
            name: `svc_${k}_pods_created`,
            kind: 'f64',
            values: Float64Array.from(ts, (t) => (kind(t) === 'pod-kill' ? 1 : 0)),
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
    assert.equal(F, 17); // 5 services × cpu, mem, net_rx + cpu_util + the one pods_created that moves (flat ones are dropped)
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
    // From the injection time, faultline, BARO and the trailing z detector's own attribution put the target first
    // through the series the fault moved.
    for (const e of saved.episodes) {
      for (const name of ['faultline', 'baro', 'trailing-z-attribution'] as const) {
        const b = e.views.injection.rankers[name]!;
        assert.equal(b.truthRank, 1, `${name} ${e.id}: ${b.top.join(', ')}`);
        assert.ok(b.drivers[0]!.startsWith(`svc_${e.truth[0]}_`));
        assert.ok(b.ms >= 0);
      }
      assert.ok(e.timeMs > 0);
    }
    assert.equal(
      saved.episodes.find((e) => e.type === 'pod-kill')!.views.injection.rankers.faultline!.drivers[0],
      'svc_adservice_pods_created',
    );
    assert.ok(saved.timing.byRanker.faultline!.meanMs > 0);
    assert.ok(saved.callGraph.graph['frontend']!.includes('cartservice'));
    const inj = saved.scores.injection.all.baro!;
    assert.equal(inj.overall!.ac1, 1);
    assert.equal(inj['cpu-stress']!.cases, 2);
    // every ranker scored, random among them; undetected episodes count as misses in the detected view
    for (const r of [
      'faultline',
      'baro',
      'baro-rcaeval',
      'usad-attribution',
      'nearest-window-attribution',
      'trailing-z-attribution',
      'random',
    ] as const)
      assert.ok(saved.scores.injection.all[r]?.overall, r);
    const detected = saved.episodes.filter((e) => e.detected).length;
    const det = saved.scores.detected.all.baro!.overall!;
    assert.equal(det.cases, 4);
    assert.ok(det.ac5 <= detected / 4 + 1e-9);
    assert.equal(saved.default.name, 'faultline');
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
    assert.match(html, /Default localiser: <b>faultline<\/b>/);
    assert.match(html, /<b>redis_cart<\/b>/);
    const twin = JSON.parse(await readFile(rep.resultsJsonPath, 'utf8')) as {
      sections: Record<string, string>;
      localisation: LocalisationResults | null;
    };
    assert.equal(twin.sections.localisation, 'ok');
    assert.equal(twin.localisation?.episodes.length, 4);

    // `faultline dataset localise` re-runs the step on the finished campaign with this code: localisation.json
    // and the report's section are rewritten in place (here after another call graph: no edges)
    const noGraph = join(dir, 'no-graph.yaml');
    await writeFile(noGraph, 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: frontend }\n');
    const again = spawnSync(process.execPath, [cliMain(), 'dataset', 'localise', dir, '--manifest', noGraph], {
      encoding: 'utf8',
    });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /4 episodes .* default faultline/);
    assert.match(again.stdout, /^faultline +1\.00 +1\.00 +1\.00/m);
    const redone = JSON.parse(await readFile(path, 'utf8')) as LocalisationResults;
    assert.equal(redone.callGraph.source, noGraph);
    const html2 = await readFile(rep.htmlPath, 'utf8');
    assert.equal(html2.match(/<section id="localisation"/g)?.length, 1);
    assert.equal(
      html2.replace(/<section id="localisation".*?<\/section>/s, ''),
      html.replace(/<section id="localisation".*?<\/section>/s, ''),
    );
    const twin2 = JSON.parse(await readFile(rep.resultsJsonPath, 'utf8')) as { localisation: LocalisationResults };
    assert.equal(twin2.localisation.callGraph.source, noGraph);
    const bad = spawnSync(process.execPath, [cliMain(), 'dataset', 'localise', join(dir, 'nope')], {
      encoding: 'utf8',
    });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /no campaign .*nope/);
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
