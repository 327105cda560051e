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
    assert.ok(head.rocAuc > 0.9, `AUC ${head.rocAuc}`);
    assert.ok(head.bestF1PointAdjusted >= head.bestF1);
    const r = JSON.parse(await readFile(head.resultsPath, 'utf8')) as EvaluationResults;
    assert.equal(r.chosenThreshold.method, 'best-f1-val');
    assert.deepEqual(
      r.thresholds.map((t) => t.method),
      ['best-f1-val', 'pot', 'percentile'],
    );
    assert.deepEqual(Object.keys(r.baselines).sort(), ['ensemble-rank', 'ensemble-z', 'isolationForest', 'random']);
    assert.ok(r.baselines.isolationForest!.rocAuc > 0.9, 'IForest finds the out-of-range windows');
    assert.ok(r.baselines.random!.rocAuc < 0.75);
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
