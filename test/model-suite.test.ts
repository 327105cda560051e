import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluate, type EvaluationResults } from '../activities/model/evaluate';
import { readNpyAs, writeNpy } from '../activities/dataset/npy';
import type { EvaluationHeadline } from '../activities/model/types';
import { createReportActivities } from '../activities/report';
import { mulberry32 } from '../activities/random';
import { modelSchema } from '../schemas/model';
import { printResult } from '../cli/commands/campaign';
import { makeModelFixture, pythonTorch, type ModelFixture } from './fixtures/model-helpers';

/** One campaign-shaped copy of the fixture's dataset and model, evaluated; returns its results.json. */
async function run(
  root: string,
  fx: ModelFixture,
  name: string,
  edit: (datasetDir: string) => Promise<void> = () => Promise.resolve(),
): Promise<{ head: EvaluationHeadline; r: EvaluationResults; dataDir: string }> {
  const dataDir = join(root, name);
  await cp(fx.dataset.dir, join(dataDir, 'dataset'), { recursive: true });
  await edit(join(dataDir, 'dataset'));
  const dataset = { ...fx.dataset, dir: join(dataDir, 'dataset'), cardPath: join(dataDir, 'dataset', 'card.json') };
  const head = await evaluate(
    { campaignId: name, dataDir, dataset, trained: fx.trained, model: modelSchema.parse({}) },
    { iforestTrees: 50 },
  );
  return { head, r: JSON.parse(await readFile(head.resultsPath, 'utf8')) as EvaluationResults, dataDir };
}

const byName = (r: EvaluationResults) => Object.fromEntries(r.detectors.map((d) => [d.name, d]));

describe('detector suite (evaluate)', function () {
  let root = '';
  let fx: ModelFixture | undefined;
  before(async function () {
    const py = pythonTorch();
    if (!py.ok) {
      console.warn(`SKIPPED: needs /usr/bin/python3 with torch to export the model (${py.why})`);
      this.skip();
    }
    root = await mkdtemp(join(tmpdir(), 'fl-suite-'));
    fx = await makeModelFixture(join(root, 'fixture'), py);
  });
  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('marks Isolation Forest "cannot score" on flat training data and leaves it out of the choice and the ensemble', async () => {
    const { r, dataDir } = await run(root, fx!, 'flat', async (dir) => {
      const train = await readNpyAs(join(dir, 'train.npy'), 'float32');
      await writeNpy(join(dir, 'train.npy'), { ...train, data: new Float32Array(train.data.length).fill(0.5) });
    });
    const det = byName(r);
    const iforest = det['isolation-forest']!;
    assert.match(iforest.cannotScore ?? '', /every tree is a single leaf/);
    assert.equal(iforest.test, null, 'no 0.5 ROC-AUC reported as a result');
    assert.equal(iforest.eligible, false);
    assert.ok(!det.ensemble!.members!.includes('isolation-forest'));
    assert.notEqual(r.chosen.detector, 'isolation-forest');
    assert.ok(!r.chosen.ranking.some((x) => x.name === 'isolation-forest'));
    // the others still score the flat-trained data: any deviation from the one training window is far
    assert.ok(det['nearest-window']!.test!.rocAuc > 0.9);

    // the report shows every detector side by side, the one that cannot score marked with its reason
    const { writeReport } = createReportActivities({});
    const rep = await writeReport({
      campaignId: 'flat',
      campaignName: 'flat',
      dataDir,
      configHash: 'abc',
      status: 'completed',
      phases: [],
      traffic: [],
      browser: [],
      faultsInjected: 0,
      evaluation: { ...headOf(r), resultsPath: join(dataDir, 'results', 'results.json') },
    });
    const html = await readFile(rep.htmlPath, 'utf8');
    const table = /<table class="num detectors">[\s\S]*?<\/table>/.exec(html)?.[0] ?? '';
    for (const d of r.detectors) assert.ok(table.includes(`<b>${d.name}</b>`), `row for ${d.name}`);
    assert.match(table, /cannot score: every training feature is constant/);
    assert.match(table, new RegExp(`<b>${r.chosen.detector}</b> <span class="tag">chosen</span>`));
    assert.ok(html.includes(`Chosen: ${r.chosen.detector}`), 'the choice and why');
    assert.match(html, /False alarms \/ quiet h/);
  });

  it('picks the default detector and alarm rules without reading the test split (permuted test labels: same choice)', async () => {
    const a = await run(root, fx!, 'plain');
    const b = await run(root, fx!, 'permuted', async (dir) => {
      const labels = await readNpyAs(join(dir, 'test_labels.npy'), 'uint8');
      const types = JSON.parse(await readFile(join(dir, 'test_fault_types.json'), 'utf8')) as (string | null)[];
      const rand = mulberry32(5);
      const idx = Array.from(labels.data, (_, i) => i);
      for (let i = idx.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [idx[i], idx[j]] = [idx[j]!, idx[i]!];
      }
      await writeNpy(join(dir, 'test_labels.npy'), { ...labels, data: Uint8Array.from(idx, (i) => labels.data[i]!) });
      await writeFile(join(dir, 'test_fault_types.json'), JSON.stringify(idx.map((i) => types[i] ?? null)));
    });
    assert.equal(a.r.chosen.rule, 'validation-labels');
    assert.deepEqual(b.r.chosen, a.r.chosen);
    for (const d of a.r.detectors) {
      const e = byName(b.r)[d.name]!;
      assert.deepEqual(e.alarm?.rule, d.alarm?.rule, `${d.name}: alarm rule`);
      assert.deepEqual(e.validation, d.validation, `${d.name}: validation metrics`);
    }
    // …while the test metrics did change (the permutation was real)
    assert.ok(Math.abs(byName(b.r).usad!.test!.rocAuc - byName(a.r).usad!.test!.rocAuc) > 0.1);
  });

  it('scores the multi-scale nearest window on windows cut from one table and picks it when validation holds no fault', async () => {
    const W = fx!.dataset.windowSize;
    const { r } = await run(root, fx!, 'one-table', async (dir) => {
      // every split re-cut as stride-1 windows of one random walk per split (the dataset builder's layout),
      // with the test episodes pushed away from it; validation labels cleared (the label-free rule)
      const rand = mulberry32(17);
      for (const split of ['train', 'val', 'test'] as const) {
        const x = await readNpyAs(join(dir, `${split}.npy`), 'float32');
        const [n, , F] = x.shape as [number, number, number];
        const labels = await readNpyAs(join(dir, `${split}_labels.npy`), 'uint8');
        const rows = new Float32Array((n + W - 1) * F);
        for (let f = 0; f < F; f++) rows[f] = 0.5;
        for (let i = 1; i < n + W - 1; i++)
          for (let f = 0; f < F; f++)
            rows[i * F + f] = 0.5 + 0.8 * (rows[(i - 1) * F + f]! - 0.5) + 0.05 * (rand() - 0.5);
        if (split === 'test')
          for (let i = 0; i < n; i++) if (labels.data[i]) for (let j = 0; j < W; j++) rows[(i + j) * F] = 2.5;
        const out = new Float32Array(n * W * F);
        for (let i = 0; i < n; i++) out.set(rows.subarray(i * F, (i + W) * F), i * W * F);
        await writeNpy(join(dir, `${split}.npy`), { ...x, data: out });
        if (split === 'val') {
          await writeNpy(join(dir, 'val_labels.npy'), { ...labels, data: new Uint8Array(n) });
          await writeFile(join(dir, 'val_fault_types.json'), JSON.stringify(new Array(n).fill(null)));
        }
      }
    });
    const ms = byName(r)['nearest-window-multiscale']!;
    assert.equal(ms.cannotScore, null);
    assert.ok(ms.eligible);
    assert.ok(ms.test!.rocAuc > 0.9, `ROC-AUC ${ms.test!.rocAuc}`);
    assert.ok(byName(r).ensemble!.members!.includes('nearest-window-multiscale'));
    assert.equal(r.chosen.rule, 'label-free');
    assert.equal(r.chosen.detector, 'nearest-window-multiscale');
  });

  it('says which metrics are undefined when the test split has no normal window, and the CLI prints them', async () => {
    const { head, r } = await run(root, fx!, 'all-anomalous', async (dir) => {
      const labels = await readNpyAs(join(dir, 'test_labels.npy'), 'uint8');
      await writeNpy(join(dir, 'test_labels.npy'), { ...labels, data: new Uint8Array(labels.data.length).fill(1) });
      await writeFile(join(dir, 'test_fault_types.json'), JSON.stringify(Array.from(labels.data, () => 'pod-kill')));
    });
    assert.equal(head.rocAuc, null);
    assert.match(
      head.undefinedWhy?.join(' ') ?? '',
      /test split has no normal window: ROC-AUC.*lengthen durations\.chaos/,
    );
    assert.match(r.coverage.find((c) => c.split === 'test')!.undefinedWhy ?? '', /no normal window/);
    // JSON carries NaN as null: the headline as the CLI receives it from the workflow
    const received = JSON.parse(JSON.stringify(head)) as EvaluationHeadline;
    const lines: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => void lines.push(args.join(' '));
    try {
      printResult({
        campaignId: 'x',
        status: 'completed',
        dataDir: '/d',
        headline: received,
        faultsInjected: 3,
        cleanupRuns: 0,
      });
    } finally {
      console.log = log;
    }
    const out = lines.join('\n');
    // the report says it too, at the top
    const { writeReport } = createReportActivities({});
    const rep = await writeReport({
      campaignId: 'all-anomalous',
      campaignName: 'all-anomalous',
      dataDir: join(root, 'all-anomalous'),
      configHash: 'abc',
      status: 'completed',
      phases: [],
      traffic: [],
      browser: [],
      faultsInjected: 0,
      evaluation: received,
    });
    const html = await readFile(rep.htmlPath, 'utf8');
    assert.match(
      html,
      /Undefined metrics: the test split has no normal window: ROC-AUC, VUS-ROC and false alarms per hour are undefined; the test split is the end of the chaos phase: lengthen durations\.chaos/,
    );
    assert.match(out, /ROC-AUC —/);
    assert.match(out, /undefined: the test split has no normal window/);
  });
});

/** The headline fields writeReport reads (as the workflow would pass them). */
function headOf(r: EvaluationResults): EvaluationHeadline {
  const chosen = r.detectors.find((d) => d.name === r.chosen.detector)!.test!;
  return {
    resultsPath: '',
    detector: r.chosen.detector,
    rocAuc: chosen.rocAuc,
    prAuc: chosen.prAuc,
    vusPr: chosen.vusPr,
    bestF1: chosen.bestF1.f1,
    bestF1PointAdjusted: chosen.bestF1PointAdjusted.f1,
    f1AtThreshold: chosen.atThreshold.f1,
    threshold: chosen.threshold,
  };
}
