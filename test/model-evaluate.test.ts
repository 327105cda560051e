import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModelActivities } from '../activities/model';
import type { EvaluationResults } from '../activities/model/evaluate';
import { readNpyAs } from '../activities/dataset/npy';
import { modelSchema } from '../schemas/model';
import { makeModelFixture, pythonTorch } from './fixtures/model-helpers';

describe('model evaluateModel activity', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fl-eval-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('scores, thresholds on validation, evaluates and writes results.json and scores.npy', async function () {
    const py = pythonTorch();
    if (!py.ok) {
      console.warn(`SKIPPED: needs /usr/bin/python3 with torch to export the model (${py.why})`);
      this.skip();
    }
    const fx = await makeModelFixture(dir, py);
    const { evaluateModel } = createModelActivities({ home: dir });
    const model = modelSchema.parse({});
    const head = await evaluateModel({
      campaignId: 'c1',
      dataDir: dir,
      dataset: fx.dataset,
      trained: fx.trained,
      model,
    });
    assert.equal(head.resultsPath, join(dir, 'results', 'results.json'));
    assert.ok(head.rocAuc !== null && head.rocAuc > 0.9, `AUC ${head.rocAuc}`);
    assert.ok(head.bestF1PointAdjusted !== null && head.bestF1 !== null && head.bestF1PointAdjusted >= head.bestF1);
    assert.ok(head.detector && head.alarms, 'headline names the chosen detector and its alarm outcome');
    const r = JSON.parse(await readFile(head.resultsPath, 'utf8')) as EvaluationResults;
    assert.equal(r.chosenThreshold.method, 'best-f1-val');
    assert.deepEqual(
      r.thresholds.map((t) => t.method),
      ['best-f1-val', 'pot', 'percentile'],
    );
    const det = Object.fromEntries(r.detectors.map((d) => [d.name, d]));
    assert.deepEqual(Object.keys(det), [
      'usad',
      'nearest-window',
      'nearest-window-stream',
      'nearest-window-multiscale',
      'trailing-robust-z',
      'isolation-forest',
      'ensemble',
      'random',
    ]);
    // the fixture's windows are independent draws, not slices of one table: no rows to rebuild
    for (const rowWise of ['nearest-window-multiscale', 'trailing-robust-z']) {
      assert.match(det[rowWise]!.cannotScore ?? '', /disagree on a shared row/);
      assert.equal(det[rowWise]!.eligible, false);
    }
    assert.ok(det['isolation-forest']!.test!.rocAuc > 0.9, 'IForest finds the out-of-range windows');
    assert.ok(det['nearest-window']!.test!.rocAuc > 0.9, 'the nearest window finds them too');
    assert.ok(det.random!.test!.rocAuc < 0.75);
    assert.equal(det.random!.eligible, false, 'random scores are a reference, never the default');
    assert.deepEqual(det.ensemble!.members, ['usad', 'nearest-window', 'nearest-window-stream', 'isolation-forest']);
    assert.equal(r.chosen.rule, 'validation-labels');
    assert.ok(det[r.chosen.detector]!.eligible);
    assert.equal(head.detector, r.chosen.detector);
    for (const d of r.detectors.filter((x) => x.eligible)) {
      assert.ok(d.alarm && d.alarm.basis === 'validation-labels', `${d.name}: alarm rule chosen on validation`);
      assert.ok(d.test!.vusPr > 0 && d.test!.vusPr <= 1, `${d.name}: VUS-PR ${d.test!.vusPr}`);
    }
    assert.equal(r.sweep.length, 11);
    assert.deepEqual(Object.keys(r.byThresholdMethod).sort(), ['best-f1-val', 'percentile', 'pot', 'spot']);
    assert.ok(r.byThresholdMethod.spot!.atThreshold.recall > 0.3, 'SPOT alarms on the out-of-range episodes');
    assert.deepEqual(
      r.usad.perFaultType.map((p) => p.faultType),
      ['cpu-stress', 'pod-kill'],
    );
    assert.equal(r.usad.delays.length, 4);
    assert.ok(existsSync(r.scoresPath));
    const scores = await readNpyAs(r.scoresPath, 'float64');
    assert.deepEqual(scores.shape, [360]);
    assert.ok(r.curves.roc.length > 2 && r.curves.pr.length > 2);
  });
});
