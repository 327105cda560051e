import assert from 'node:assert/strict';
import {
  fitGpd,
  gpdQuantile,
  nextUp,
  percentileThreshold,
  potThreshold,
  quantile,
  spot,
  bestF1Threshold,
} from '../activities/model/thresholds';
import { mulberry32 } from '../activities/random';

describe('model thresholds', () => {
  it('takes linear-interpolated percentiles of normal scores only', () => {
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
    const t = percentileThreshold([1, 2, 3, 100], [0, 0, 0, 1], 1);
    assert.ok(t > 3 && t === nextUp(3), `just above the normal maximum 3, got ${t}`);
  });

  it('alarms strictly above the percentile, so normal scores that tie there stay quiet', () => {
    // a series constant through validation: the 0.99 quantile is the constant itself
    const val = new Array<number>(300).fill(0.25);
    const t = percentileThreshold(val, undefined, 0.99);
    assert.equal(val.filter((v) => v >= t).length, 0, 'at most 1 % of normal validation windows alarm');
    assert.ok(0.2500001 >= t, 'a score above the constant alarms');
    for (const x of [0, -0, 1, -1, 1e-300, -1e-300, 123.456, Number.MAX_VALUE / 2]) {
      const u = nextUp(x);
      assert.ok(u > x, `nextUp(${x}) = ${u}`);
      const mid = x + (u - x) / 2;
      assert.ok(mid === x || mid === u, `nothing between ${x} and ${u}`);
    }
  });

  it('picks the best-F1 threshold on a labelled split', () => {
    // midway between the weakest alarmed score (0.8) and the strongest quiet one (0.2)
    assert.deepEqual(bestF1Threshold([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), { threshold: 0.5, f1: 1 });
    // the best F1 alarms 0.9, 0.7 (and the normal 0.75): midway to 0.3, the next quiet score
    const b = bestF1Threshold([0.1, 0.3, 0.7, 0.75, 0.9], [0, 0, 1, 0, 1]);
    assert.equal(b.threshold, 0.5);
    assert.ok(Math.abs(b.f1 - 0.8) < 1e-12);
    // every score alarmed: nothing below, the lowest score stays the threshold
    assert.deepEqual(bestF1Threshold([0.4, 0.6], [1, 1]), { threshold: 0.4, f1: 1 });
  });

  it('fits GPD parameters by Grimshaw maximum likelihood', () => {
    const rand = mulberry32(1);
    for (const [gamma, sigma] of [
      [0.3, 2],
      [-0.2, 1],
    ] as const) {
      const y = Float64Array.from({ length: 8000 }, () => (sigma / gamma) * (Math.pow(1 - rand(), -gamma) - 1));
      const fit = fitGpd(y);
      assert.ok(Math.abs(fit.gamma - gamma) < 0.06, `gamma ${fit.gamma} vs ${gamma}`);
      assert.ok(Math.abs(fit.sigma / sigma - 1) < 0.08, `sigma ${fit.sigma} vs ${sigma}`);
      assert.equal(fit.method, 'grimshaw');
    }
  });

  it('sets a sane POT threshold on an exponential tail', () => {
    const rand = mulberry32(2);
    const x = Float64Array.from({ length: 20000 }, () => -Math.log(1 - rand()));
    const pot = potThreshold(x, 1e-3, 0.98);
    // exact 1 − 1e-3 quantile of Exp(1) is ln(1000) = 6.91; the fitted tail must be close to exponential
    assert.ok(Math.abs(pot.fit.gamma) < 0.12, `gamma ${pot.fit.gamma}`);
    assert.ok(Math.abs(pot.threshold - Math.log(1000)) < 0.6, `z_q ${pot.threshold}`);
    assert.ok(pot.threshold > quantile(x, 0.98));
  });

  it('sets a sane POT threshold on a Pareto tail', () => {
    const rand = mulberry32(3);
    // Pareto(a = 3): P(X > x) = x^−3, tail index γ = 1/3, 1 − 1e-3 quantile = 10
    const x = Float64Array.from({ length: 20000 }, () => Math.pow(1 - rand(), -1 / 3));
    const pot = potThreshold(x, 1e-3, 0.98);
    assert.ok(pot.fit.gamma > 0.15 && pot.fit.gamma < 0.55, `gamma ${pot.fit.gamma}`);
    assert.ok(Math.abs(pot.threshold / 10 - 1) < 0.25, `z_q ${pot.threshold}`);
    // the exponential formula branch gives the same quantile as the limit γ → 0
    const a = gpdQuantile(1, { gamma: 1e-12, sigma: 2 }, 1e-3, 1000, 20);
    const b = gpdQuantile(1, { gamma: 1e-6, sigma: 2 }, 1e-3, 1000, 20);
    assert.ok(Math.abs(a - b) < 1e-4);
  });

  it('streams with SPOT, alarming on spikes but rarely on normal data', () => {
    const rand = mulberry32(4);
    const init = Float64Array.from({ length: 3000 }, () => -Math.log(1 - rand()));
    const stream = Float64Array.from({ length: 2000 }, (_, i) => (i % 400 === 399 ? 30 : -Math.log(1 - rand())));
    const res = spot(init, stream, 1e-3, 0.98);
    for (let i = 399; i < 2000; i += 400) assert.equal(res.alarms[i], 1, `spike ${i} missed`);
    const falseAlarms = res.alarms.reduce((a, b) => a + b, 0) - 5;
    assert.ok(falseAlarms <= 10, `${falseAlarms} false alarms`);
    assert.ok(res.final.peaks > 60);
  });
});
