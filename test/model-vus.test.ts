import assert from 'node:assert/strict';
import { vus } from '../activities/model/vus';
import { averagePrecision } from '../activities/model/metrics';

/**
 * VUS-PR by hand (Paparrizos et al., VLDB 2022; TSB-AD's RangeAUC_volume_opt). Six points, one anomaly
 * range [2, 3]; scores rank 2 first, then the normal point 4, then 3, then the rest.
 */
const labels = [0, 0, 1, 1, 0, 0];
const scores = [0.1, 0.2, 0.9, 0.3, 0.8, 0.05];

describe('VUS-PR (range-based PR volume)', () => {
  it('buffer 0: the range-PR curve of the plain labels', () => {
    // P = 2, no buffer, P' = 2; one segment. Thresholds (the 250-grid repeats these six):
    //   0.9 → pred {2}:     TP 1, TPR 1/2·1, precision 1
    //   0.8 → pred {2,4}:   TP 1, TPR 1/2,   precision 1/2
    //   0.3 → pred {2,4,3}: TP 2, TPR 1,     precision 2/3
    //   lower: TPR 1 (no more area)
    // AP = (1/2)(1+1)/2 + 0 + (1/2)(1/2 + 2/3)/2 = 1/2 + 7/24 = 19/24
    const r = vus(scores, labels, 0);
    assert.ok(Math.abs(r.vusPr - 19 / 24) < 1e-12, `${r.vusPr}`);
  });

  it('buffers 0..2: the mean over ℓ = 0, 1, 2, with ℓ = 2 widening the range by one soft point each side', () => {
    // ℓ = 1: ⌊ℓ/2⌋ = 0, the same as ℓ = 0 → 19/24.
    // ℓ = 2: points 1 and 4 get sqrt(1 − 1/2) = √½; Σ labels = 2 + 2√½, P' = (2 + 2 + 2√½)/2 = 2 + √½;
    //   one segment [1, 4].
    const s = Math.SQRT1_2;
    const pNew = 2 + s;
    //   0.9 → {2}:       TP 1            TPR 1/P'        precision 1
    //   0.8 → {2,4}:     TP 1 + √½       TPR (1+√½)/P'   precision (1+√½)/2
    //   0.3 → {2,4,3}:   TP 2 + √½ = P'  TPR 1           precision (2+√½)/3
    //   0.2 → adds 1:    TPR min(…, 1) = 1 (no more area)
    const t1 = 1 / pNew;
    const t2 = (1 + s) / pNew;
    const p2 = (1 + s) / 2;
    const p3 = (2 + s) / 3;
    const ap2 = t1 * 1 + (t2 - t1) * ((1 + p2) / 2) + (1 - t2) * ((p2 + p3) / 2);
    const expected = (19 / 24 + 19 / 24 + ap2) / 3;
    const r = vus(scores, labels, 2);
    assert.ok(Math.abs(r.vusPr - expected) < 1e-12, `${r.vusPr} vs ${expected}`);
    assert.equal(r.maxBuffer, 2);
  });

  it('a perfect ranking scores 1 at buffer 0, and is not AP in general (range existence weighs segments)', () => {
    assert.ok(Math.abs(vus([0, 0, 1, 1, 0, 0], labels, 0).vusPr - 1) < 1e-12);
    // Two ranges, the first found at the top, the second last: existence halves the first TPR step.
    const l2 = [1, 0, 0, 0, 0, 1];
    const s2 = [0.9, 0.5, 0.4, 0.3, 0.2, 0.1];
    // 0.9 → TP 1, P' 2, recall 1/2, existence 1/2 → TPR 1/4, precision 1
    // 0.5, 0.4, 0.3, 0.2 → TPR 1/4 … ; 0.1 → TP 2, TPR 1, precision 2/6
    // AP = 1/4·1 + 3/4·(1/5 + 1/3)/2 (the previous point has precision 1/5)
    const expected = 0.25 + 0.75 * ((1 / 5 + 1 / 3) / 2);
    assert.ok(Math.abs(vus(s2, l2, 0).vusPr - expected) < 1e-12);
    assert.ok(Math.abs(averagePrecision(s2, l2) - (0.5 + 0.5 * (2 / 6))) < 1e-12, 'AP differs: no existence term');
  });

  it('is undefined without anomalies and refuses NaN scores', () => {
    assert.ok(Number.isNaN(vus([0.1, 0.2], [0, 0], 4).vusPr));
    assert.throws(() => vus([0.1, NaN], [0, 1], 1), /score 1 is NaN/);
  });
});
