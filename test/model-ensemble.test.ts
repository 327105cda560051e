import assert from 'node:assert/strict';
import { ensembleScores, rankNormalise, robustNormalise, zNormalise } from '../activities/model/ensemble';

describe('ensemble normalisation', () => {
  it('robust scaling keeps the order beyond the reference (rank saturates) and gives members one scale (z lets one drown the rest)', () => {
    // member A: validation mostly 0 with a few faults at 1..4; member B: validation spread 0..100
    const refA = [...Array.from({ length: 96 }, () => 0), 1, 2, 3, 4];
    const refB = Array.from({ length: 100 }, (_, i) => i);
    const testA = [0, 5, 50];
    const testB = [10, 90, 95];
    // rank: both strong test windows of A sit above the reference maximum and tie at 1
    const rank = rankNormalise(testA, refA);
    assert.equal(rank[1], rank[2]);
    // robust: A's (median 0, q99 ≈ 3.01) keeps 5 < 50
    const rob = robustNormalise(testA, refA);
    assert.ok(rob[1]! < rob[2]!);
    assert.equal(rob[0], 0);
    // B: median 49.5, q99 98.01 → 90 is (90 − 49.5)/48.51
    assert.ok(Math.abs(robustNormalise([90], refB)[0]! - (90 - 49.5) / (98.01 - 49.5)) < 1e-9);
    // z against a reference that is constant on its normal part floors the std: one member drowns the other
    const zA = zNormalise(
      testA,
      Array.from({ length: 100 }, () => 0),
    );
    assert.ok(zA[1]! > 1e9);
    const ens = ensembleScores(
      [
        { scores: testA, reference: refA },
        { scores: testB, reference: refB },
      ],
      'robust',
    );
    assert.ok(ens[2]! > ens[1]! && ens[1]! > ens[0]!);
  });

  it('falls back to max − median, then median − min, when 99 % of the reference ties', () => {
    const ref = [...Array.from({ length: 999 }, () => 1), 3];
    assert.equal(robustNormalise([5], ref)[0], (5 - 1) / 2);
    const low = [0, ...Array.from({ length: 999 }, () => 1)];
    assert.equal(robustNormalise([3], low)[0], 2);
  });
});
