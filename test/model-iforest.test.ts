import assert from 'node:assert/strict';
import { IsolationForest, averagePathLength } from '../activities/model/isolation-forest';
import { ensembleScores, rankNormalise } from '../activities/model/ensemble';
import { rocAuc } from '../activities/model/metrics';
import { mulberry32 } from '../activities/random';

describe('model isolation forest and ensemble', () => {
  it('uses the c(n) normalisation of Liu et al.', () => {
    assert.equal(averagePathLength(1), 0);
    assert.equal(averagePathLength(2), 1);
    assert.ok(Math.abs(averagePathLength(256) - 10.2448) < 1e-3);
  });

  it('separates obvious outliers, reproducibly for a seed', () => {
    const rand = mulberry32(5);
    const dim = 8;
    const train = Float32Array.from({ length: 1000 * dim }, () => rand());
    const test = new Float32Array(110 * dim);
    for (let i = 0; i < 110 * dim; i++) test[i] = rand();
    const labels = new Uint8Array(110);
    for (let r = 100; r < 110; r++) {
      labels[r] = 1;
      // far outside the training cube in every feature: a tree built on normal data sends it to the
      // extreme leaf of every split, isolating it near the root
      for (let f = 0; f < dim; f++) test[r * dim + f] = 2 + rand();
    }
    const forest = IsolationForest.fit(train, dim, { seed: 1 });
    const s = forest.score(test);
    assert.equal(rocAuc(s, labels), 1);
    const normalMax = Math.max(...s.slice(0, 100));
    const outlierMin = Math.min(...s.slice(100));
    assert.ok(outlierMin > normalMax, `${outlierMin} <= ${normalMax}`);
    const normalMean = s.slice(0, 100).reduce((a, b) => a + b, 0) / 100;
    assert.ok(outlierMin > 0.6 && normalMean < 0.55, `outliers ≥ ${outlierMin}, normal mean ${normalMean}`);
    assert.deepEqual([...IsolationForest.fit(train, dim, { seed: 1 }).score(test)], [...s]);
  });

  it('averages rank- or z-normalised detector scores', () => {
    assert.deepEqual([...rankNormalise([0, 2, 5], [1, 2, 3, 4])], [0, 0.375, 1]);
    const ens = ensembleScores(
      [
        { scores: [1, 2, 3], reference: [1, 2, 3] },
        { scores: [30, 20, 10], reference: [10, 20, 30] },
      ],
      'z',
    );
    for (const v of ens) assert.ok(Math.abs(v) < 1e-12);
  });
});
