import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Builder, logging, type WebDriver } from 'selenium-webdriver';
import * as chrome from 'selenium-webdriver/chrome';
import { createModelActivities } from '../activities/model';
import { createReportActivities, compareWithHistory, type CampaignSummary } from '../activities/report';
import type { ReportResults } from '../activities/report/report';
import type { ReportInput } from '../activities/report/types';
import { writeArrowTable } from '../activities/metrics/arrow-table';
import { modelSchema } from '../schemas/model';
import type { FaultLogEvent } from '../schemas/fault-log';
import { makeModelFixture, pythonTorch, type ModelFixture } from './fixtures/model-helpers';
import { mulberry32 } from '../activities/random';

const CHROMIUM = '/usr/bin/chromium';
const CHROMEDRIVER = '/usr/bin/chromedriver';
/** Where the screenshot is kept for people to look at (outside the temp campaign dir). */
const SHOT_DIR = process.env.FAULTLINE_REPORT_SHOTS ?? join(tmpdir(), 'faultline-report-shots');

const SECTIONS = [
  'summary',
  'metrics',
  'score',
  'training',
  'curves',
  'faults-detected',
  'baselines',
  'traffic',
  'browser',
  'dataset',
  'faultlog',
  'history',
];

async function campaign(dir: string, fx: ModelFixture): Promise<ReportInput> {
  // Points table: 6 features at 5 s, with the faults visible in two of them.
  const n = Math.round((fx.endMs - fx.t0) / fx.stepMs);
  const ts = Float64Array.from({ length: n }, (_, i) => fx.t0 + i * fx.stepMs);
  const rand = mulberry32(3);
  const cols = fx.dataset.features.map((_, k) =>
    Float64Array.from(ts, (t, i) => 0.3 + 0.1 * Math.sin(i / (20 + k * 7)) + 0.05 * rand()),
  );
  const isAnomaly = new Uint8Array(n);
  for (const ep of fx.testEpisodes) {
    for (let i = 0; i < n; i++) {
      if (ts[i]! >= ep.startMs && ts[i]! <= ep.endMs) {
        isAnomaly[i] = 1;
        cols[ep.type === 'pod-kill' ? 0 : 2]![i]! += ep.type === 'pod-kill' ? 0.8 : 0.4;
      }
    }
  }
  await writeArrowTable(join(fx.dataset.dir, 'points.arrow'), [
    { name: 'timestamp', kind: 'f64', values: ts },
    ...fx.dataset.features.map((name, k) => ({ name, kind: 'f64' as const, values: cols[k]! })),
    { name: 'is_anomaly', kind: 'u8', values: isAnomaly },
  ]);
  // Fault log: the four test episodes, plus one rejected by the guard.
  const events: FaultLogEvent[] = [];
  fx.testEpisodes.forEach((ep, k) => {
    const id = `f-${k}-${ep.type}`;
    const target = {
      namespace: 'default',
      app: k % 2 ? 'cartservice' : 'frontend',
      pods: [`${k % 2 ? 'cartservice' : 'frontend'}-7d9f-${k}`],
    };
    events.push({
      ev: 'planned',
      ts: ep.startMs - 2000,
      id,
      campaignId: 'c-report',
      type: ep.type as 'pod-kill',
      target,
      params: {},
      plannedMs: ep.startMs - 1000,
      plannedEndMs: ep.endMs,
    });
    events.push({ ev: 'applied', ts: ep.startMs, id });
    events.push({ ev: 'removed', ts: ep.endMs - 20_000, id });
    events.push({ ev: 'recovered', ts: ep.endMs, id });
  });
  events.push({
    ev: 'rejected',
    ts: fx.endMs - 60_000,
    id: 'f-x',
    campaignId: 'c-report',
    type: 'pod-kill',
    plannedMs: fx.endMs - 60_000,
    error: 'blast radius: prometheus is protected',
  });
  const faultLogPath = join(dir, 'chaos', 'faults.jsonl');
  mkdirSync(join(dir, 'chaos'), { recursive: true });
  await writeFile(faultLogPath, events.map((e) => JSON.stringify(e)).join('\n') + '\n');

  const head = await createModelActivities().evaluateModel({
    campaignId: 'c-report',
    dataDir: dir,
    dataset: fx.dataset,
    trained: fx.trained,
    model: modelSchema.parse({}),
  });
  const split = fx.t0 + 608 * fx.stepMs;
  const lat = (s: number) => ({
    min: 3 * s,
    mean: 21 * s,
    p50: 14 * s,
    p90: 38 * s,
    p95: 52 * s,
    p99: 120 * s,
    max: 480 * s,
  });
  // Browser runs of the chaos phase as the probe writes them: one passed, two failed (one during an http-abort)
  const chaosRuns = join(dir, 'browser', 'chaos', 'runs.jsonl');
  mkdirSync(join(dir, 'browser', 'chaos'), { recursive: true });
  const phone = { name: 'mobile', device: 'Pixel 7', width: 412, height: 915 };
  const steps = [{ name: 'home', ok: true, ms: 900 }];
  await writeFile(
    chaosRuns,
    [
      { run: 1, profile: phone, ok: true, startMs: split + 1000, endMs: split + 9000, steps },
      {
        run: 2,
        profile: phone,
        ok: false,
        startMs: split + 10_000,
        endMs: split + 40_000,
        steps: [{ name: 'home', ok: false, ms: 30_000 }],
        failedStep: 'home',
        assertion: 'home page main.home is shown',
        error:
          'home page main.home is shown: the server answered HTTP 503 ("fault injected: http-abort 503") at http://127.0.0.1:18000/',
        screenshot: join(dir, 'browser', 'chaos', 'run-0002-1-home-FAILED.png'),
      },
      {
        run: 3,
        profile: { name: 'desktop' },
        ok: false,
        startMs: split + 41_000,
        endMs: split + 50_000,
        steps,
        failedStep: 'cart',
        assertion: 'cart badge span.cart-size-circle shows 1',
        error: 'cart badge span.cart-size-circle shows 1: badge shows "<2>"',
      },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n') + '\n{"run": 4, "cut sh',
  );
  return {
    campaignId: 'c-report',
    campaignName: 'nightly-boutique',
    dataDir: dir,
    configHash: 'a1b2c3d4e5f60718293a',
    status: 'completed',
    phases: [
      { name: 'baseline', startMs: fx.t0, endMs: split },
      { name: 'chaos', startMs: split, endMs: fx.endMs },
    ],
    traffic: [
      {
        phase: 'baseline',
        jtlPath: '',
        summaryPath: '',
        startMs: fx.t0,
        endMs: split,
        requests: 179_000,
        errors: 12,
        throughputPerSec: 58.9,
        latencyMs: lat(1),
      },
      {
        phase: 'chaos',
        startMs: split,
        endMs: fx.endMs,
        jtlPath: '',
        summaryPath: '',
        requests: 104_000,
        errors: 1_930,
        throughputPerSec: 57.2,
        latencyMs: lat(1.8),
      },
    ],
    browser: [
      {
        phase: 'baseline',
        runs: 120,
        passed: 120,
        failed: 0,
        availability: 1,
        meanJourneyMs: 8_400,
        runsPath: '',
        junitPath: '',
      },
      {
        phase: 'chaos',
        runs: 70,
        passed: 61,
        failed: 9,
        availability: 61 / 70,
        meanJourneyMs: 11_900,
        runsPath: chaosRuns,
        junitPath: '',
      },
    ],
    faultLogPath,
    faultsInjected: 4,
    dataset: fx.dataset,
    trained: fx.trained,
    evaluation: head,
  };
}

async function openChromium(): Promise<WebDriver> {
  const options = new chrome.Options();
  options.setChromeBinaryPath(CHROMIUM);
  options.addArguments(
    '--headless=new',
    '--no-sandbox',
    '--disable-dev-shm-usage',
    '--disable-gpu',
    '--no-first-run',
    '--hide-scrollbars',
  );
  const prefs = new logging.Preferences();
  prefs.setLevel(logging.Type.BROWSER, logging.Level.ALL);
  options.setLoggingPrefs(prefs);
  return new Builder()
    .forBrowser('chrome')
    .setChromeOptions(options)
    .setChromeService(new chrome.ServiceBuilder(CHROMEDRIVER))
    .build();
}

describe('report', () => {
  let dir = '';
  let fx: ModelFixture | undefined;
  let input: ReportInput | undefined;
  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'fl-report-'));
    const py = pythonTorch();
    if (!py.ok) {
      console.warn(`SKIPPED (full report): needs /usr/bin/python3 with torch to export the model (${py.why})`);
      return;
    }
    fx = await makeModelFixture(dir, py);
    input = await campaign(dir, fx);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('renders every section in headless Chromium without console errors', async function () {
    if (!input) this.skip();
    if (!existsSync(CHROMIUM) || !existsSync(CHROMEDRIVER)) {
      console.warn('SKIPPED: /usr/bin/chromium and /usr/bin/chromedriver are needed');
      this.skip();
    }
    const previous = join(dir, 'previous-results.json');
    const prevSummary: CampaignSummary = {
      campaignId: 'c-earlier',
      campaignName: 'nightly-boutique',
      configHash: input.configHash,
      status: 'completed',
      createdMs: Date.now() - 86_400_000,
      faultsInjected: 4,
      detection: {
        rocAuc: 0.99,
        prAuc: 0.97,
        bestF1: 0.95,
        bestF1PointAdjusted: 1,
        f1AtThreshold: 0.93,
        threshold: 0.2,
        meanDelayMs: 5000,
        falseAlarmsPerHour: 0,
      },
      availability: 0.999,
      traffic: { requests: 280_000, errors: 300, errorRate: 300 / 280_000, throughputPerSec: 58, p95Ms: 60 },
      recovery: { faults: 4, meanMs: 12_000, p95Ms: 15_000 },
    };
    await writeFile(previous, JSON.stringify({ summary: prevSummary }));
    const { writeReport } = createReportActivities({});
    const res = await writeReport({ ...input, previousResultsPaths: [previous] });
    assert.equal(res.htmlPath, join(dir, 'report', 'report.html'));
    const html = await readFile(res.htmlPath, 'utf8');
    assert.ok(!/<script|<link|src=|url\(http/i.test(html), 'self-contained: no scripts or external assets');
    const results = JSON.parse(await readFile(res.resultsJsonPath, 'utf8')) as ReportResults;
    for (const s of SECTIONS) assert.equal(results.sections[s], 'ok', `section ${s}: ${results.sections[s]}`);
    assert.equal(results.faults.total, 5);
    assert.ok(results.evaluation && results.evaluation.usad.rocAuc > 0.9);
    assert.deepEqual(
      results.evaluation.usad.perFault.map((r) => [r.faultType, r.faults]),
      [
        ['cpu-stress', 2],
        ['pod-kill', 2],
      ],
      'each injected fault of the test split scored from the fault log',
    );
    assert.match(html, /Injected faults detected/);
    // every detector side by side, the chosen one tagged and why; honest metrics lead the summary
    const detTable = /<table class="num detectors">[\s\S]*?<\/table>/.exec(html)?.[0] ?? '';
    for (const d of results.evaluation.detectors) assert.ok(detTable.includes(`<b>${d.name}</b>`), `row for ${d.name}`);
    assert.ok(detTable.includes(`<b>${results.evaluation.chosen.detector}</b> <span class="tag">chosen</span>`));
    assert.ok(html.includes(`Chosen: ${results.evaluation.chosen.detector}`));
    const cards = /<section id="summary"[\s\S]*?<\/section>/.exec(html)?.[0] ?? '';
    assert.ok(cards.indexOf('VUS-PR') > 0 && cards.indexOf('VUS-PR') < cards.indexOf('Best F1 with PA / random'));
    assert.match(cards, /False alarms \/ quiet h[\s\S]*Lowest fault-kind recall/);
    // failed journeys: why, as the journey said it, with a link to the screenshot beside the report
    assert.match(html, /<h3>Failed journeys<\/h3>/);
    assert.ok(
      html.includes('the server answered HTTP 503 (&quot;fault injected: http-abort 503&quot;)'),
      'error shown',
    );
    assert.ok(html.includes('href="../browser/chaos/run-0002-1-home-FAILED.png"'), 'screenshot linked relatively');
    assert.ok(html.includes('mobile (Pixel 7)') && html.includes('badge shows &quot;&lt;2&gt;&quot;'), 'escaped');
    assert.equal((html.match(/<td>cart<\/td>|<td>home<\/td>/g) ?? []).length, 2, 'only the two failed runs listed');
    assert.ok(
      results.history && results.history.regressions.some((r) => r.metric === 'availability'),
      'availability regression flagged',
    );

    const driver = await openChromium();
    try {
      await driver.manage().window().setRect({ width: 1280, height: 900 });
      await driver.get(`file://${res.htmlPath}`);
      const found = await driver.executeScript<string[]>(
        `return ${JSON.stringify(SECTIONS)}.map(function (id) { var s = document.getElementById(id); return s ? id + ':' + s.querySelectorAll('svg').length + ':' + (s.querySelector('.notrun') ? 'notrun' : 'ok') : id + ':missing'; });`,
      );
      for (const f of found) assert.ok(!f.endsWith(':missing') && !f.endsWith(':notrun'), f);
      const svgs = await driver.executeScript<number>('return document.querySelectorAll("svg").length');
      assert.ok(svgs >= 12, `${svgs} SVG plots`);
      // every plot has a non-empty box
      const empty = await driver.executeScript<number>(
        'return Array.from(document.querySelectorAll("svg")).filter(function (s) { var r = s.getBoundingClientRect(); return r.width < 50 || r.height < 20; }).length',
      );
      assert.equal(empty, 0);
      const logs = await driver.manage().logs().get(logging.Type.BROWSER);
      const bad = logs.filter((l) => l.level.value >= logging.Level.WARNING.value);
      assert.deepEqual(
        bad.map((l) => l.message),
        [],
      );
      const height = await driver.executeScript<number>('return document.documentElement.scrollHeight');
      await driver
        .manage()
        .window()
        .setRect({ width: 1280, height: Math.min(height + 40, 16000) });
      const png = await driver.takeScreenshot();
      mkdirSync(SHOT_DIR, { recursive: true });
      const shot = join(SHOT_DIR, 'report.png');
      await writeFile(shot, Buffer.from(png, 'base64'));
      copyFileSync(res.htmlPath, join(SHOT_DIR, 'report.html'));
      assert.ok(Buffer.from(png, 'base64').length > 50_000, 'screenshot has content');
      console.log(`      report screenshot: ${shot}`);
    } finally {
      await driver.quit();
    }
  });

  it('reports a stopped campaign with missing parts as "not run" instead of breaking', async () => {
    const stoppedDir = join(dir, 'stopped');
    const { writeReport } = createReportActivities({});
    const res = await writeReport({
      campaignId: 'c-stopped',
      campaignName: 'stopped early',
      dataDir: stoppedDir,
      configHash: 'ffff',
      status: 'stopped',
      phases: [{ name: 'baseline', startMs: 1_700_000_000_000, endMs: 1_700_000_060_000 }],
      traffic: [],
      browser: [],
      faultsInjected: 0,
      faultLogPath: join(stoppedDir, 'missing.jsonl'),
      evaluation: {
        resultsPath: join(stoppedDir, 'nope.json'),
        rocAuc: NaN,
        prAuc: NaN,
        bestF1: 0,
        bestF1PointAdjusted: 0,
        f1AtThreshold: 0,
        threshold: 0,
      },
    });
    const html = await readFile(res.htmlPath, 'utf8');
    assert.match(html, /stopped/);
    const results = JSON.parse(await readFile(res.resultsJsonPath, 'utf8')) as ReportResults;
    for (const s of [
      'metrics',
      'score',
      'training',
      'curves',
      'traffic',
      'browser',
      'dataset',
      'faultlog',
      'history',
    ]) {
      assert.equal(results.sections[s], 'not run', s);
    }
    assert.equal((html.match(/class="notrun"/g) ?? []).length >= 9, true);
  });

  it('flags regressions only against earlier campaigns of the same config', () => {
    const base: CampaignSummary = {
      campaignId: 'a',
      campaignName: 'x',
      configHash: 'h',
      status: 'completed',
      createdMs: 0,
      faultsInjected: 1,
      detection: { rocAuc: 0.9, prAuc: 0.8, bestF1: 0.7, bestF1PointAdjusted: 0.9, f1AtThreshold: 0.6, threshold: 1 },
      availability: 0.99,
      recovery: { faults: 3, meanMs: 10_000, p95Ms: 12_000 },
    };
    const prev = [
      base,
      { ...base, campaignId: 'b', detection: { ...base.detection!, rocAuc: 0.92 } },
      { ...base, campaignId: 'other', configHash: 'g', availability: 0.5 },
    ];
    const cur: CampaignSummary = {
      ...base,
      campaignId: 'c',
      detection: { ...base.detection!, rocAuc: 0.8 },
      availability: 0.985,
      recovery: { faults: 3, meanMs: 16_000, p95Ms: 20_000 },
    };
    const cmp = compareWithHistory(cur, prev);
    assert.deepEqual(
      cmp.previous.map((p) => p.campaignId),
      ['a', 'b'],
    );
    assert.deepEqual(cmp.regressions.map((r) => r.metric).sort(), ['recoveryMeanMs', 'rocAuc']);
    const auc = cmp.checks.find((c) => c.metric === 'rocAuc')!;
    assert.ok(Math.abs(auc.baseline! - 0.91) < 1e-12);
  });
});
