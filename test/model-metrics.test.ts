import assert from 'node:assert/strict';
import {
  averagePrecision,
  bestF1,
  bestF1PointAdjusted,
  confusion,
  detectionDelays,
  falseAlarmsPerHour,
  faultEventRecall,
  pointAdjust,
  predict,
  prfAtThreshold,
  recallPerFaultType,
  rocAuc,
  thresholdSweep,
} from '../activities/model/metrics';
import { mulberry32 } from '../activities/random';

const close = (a: number, b: number, eps = 1e-9): void => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

describe('model metrics', () => {
  it('computes ROC-AUC with ties counted as one half', () => {
    // positives 0.35, 0.8, 0.4 vs negatives 0.1, 0.4: pairs won 1+0+2+1+0.5 = 4.5 of 6
    close(rocAuc([0.1, 0.4, 0.35, 0.8, 0.4], [0, 0, 1, 1, 1]), 0.75);
    close(rocAuc([1, 1, 1, 1], [0, 1, 0, 1]), 0.5);
    close(rocAuc([0, 1], [0, 1]), 1);
    assert.ok(Number.isNaN(rocAuc([1, 2], [0, 0])));
  });

  it('computes average precision over distinct thresholds', () => {
    // thresholds 0.8: P=1 R=1/3; 0.4: P=2/3 R=2/3; 0.35: P=3/4 R=1
    close(averagePrecision([0.1, 0.4, 0.35, 0.8, 0.4], [0, 0, 1, 1, 1]), (1 + 2 / 3 + 3 / 4) / 3);
  });

  it('finds the best F1 at the exact threshold', () => {
    const b = bestF1([0.1, 0.4, 0.35, 0.8, 0.4], [0, 0, 1, 1, 1]);
    close(b.f1, 6 / 7);
    close(b.threshold, 0.35);
    close(b.precision, 0.75);
    close(b.recall, 1);
  });

  it('point-adjusts whole anomaly segments', () => {
    const labels = [0, 1, 1, 1, 0, 0, 1, 1, 0];
    const scores = [0.1, 0.2, 0.9, 0.1, 0.3, 0.2, 0.15, 0.1, 0.05];
    const pa = bestF1PointAdjusted(scores, labels);
    close(pa.f1, 10 / 12); // at 0.15: both segments (5 windows) detected, 2 false positives
    close(pa.threshold, 0.15);
    const raw = bestF1(scores, labels);
    close(raw.f1, 10 / 13); // at 0.1: 5 TP, 3 FP
    assert.deepEqual([...pointAdjust(predict(scores, 0.9), labels)], [0, 1, 1, 1, 0, 0, 0, 0, 0]);
    // a series boundary splits a segment
    const split = bestF1PointAdjusted([0, 1, 0, 0], [0, 1, 1, 0], [2]);
    close(split.f1, 2 / 3); // only the first half-segment is hit at threshold 1
  });

  it('matches a brute-force point-adjusted F1 on random data', () => {
    const rand = mulberry32(7);
    for (let trial = 0; trial < 20; trial++) {
      const n = 200;
      const labels = new Uint8Array(n);
      let on = false;
      for (let i = 0; i < n; i++) {
        if (rand() < 0.05) on = !on;
        labels[i] = on ? 1 : 0;
      }
      const scores = Float64Array.from({ length: n }, (_, i) => Math.round((rand() + labels[i]! * 0.3) * 50) / 50);
      let brute = 0;
      let bruteRaw = 0;
      for (const t of new Set(scores)) {
        brute = Math.max(brute, confusion(pointAdjust(predict(scores, t), labels), labels).f1);
        bruteRaw = Math.max(bruteRaw, prfAtThreshold(scores, labels, t).f1);
      }
      close(bestF1PointAdjusted(scores, labels).f1, brute, 1e-12);
      close(bestF1(scores, labels).f1, bruteRaw, 1e-12);
      // AUC equals the pairwise definition
      let wins = 0;
      let pairs = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          if (labels[i] && !labels[j]) {
            pairs++;
            wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
          }
        }
      }
      if (pairs > 0) close(rocAuc(scores, labels), wins / pairs, 1e-12);
    }
  });

  it('computes precision, recall and F1 at a threshold', () => {
    const m = prfAtThreshold([0.1, 0.4, 0.35, 0.8, 0.4], [0, 0, 1, 1, 1], 0.4);
    assert.deepEqual([m.tp, m.fp, m.fn, m.tn], [2, 1, 1, 1]);
    close(m.precision, 2 / 3);
    close(m.recall, 2 / 3);
    close(m.f1, 2 / 3);
  });

  it('measures detection delay, recall per fault type and false alarms per hour', () => {
    const labels = [0, 0, 1, 1, 1, 0, 0, 1, 1, 0];
    const types = [null, null, 'pod-kill', 'pod-kill', 'pod-kill', null, null, 'cpu-stress', 'cpu-stress', null];
    const pred = [0, 1, 0, 0, 1, 0, 0, 0, 0, 0];
    const times = Float64Array.from({ length: 20 }, (_, k) =>
      k % 2 === 0 ? (k / 2) * 1000 - 5000 : ((k - 1) / 2) * 1000,
    );
    const delays = detectionDelays(pred, labels, times, types);
    assert.equal(delays.length, 2);
    assert.deepEqual(delays[0], { faultType: 'pod-kill', startMs: 2000, endMs: 4000, detectedMs: 4000, delayMs: 2000 });
    assert.equal(delays[1]?.delayMs, null);
    const rec = recallPerFaultType(pred, labels, types);
    const pk = rec.find((r) => r.faultType === 'pod-kill');
    const cs = rec.find((r) => r.faultType === 'cpu-stress');
    close(pk?.recall ?? -1, 1 / 3);
    assert.equal(pk?.detectedEpisodes, 1);
    assert.equal(cs?.recall, 0);
    assert.equal(cs?.episodes, 1);
    const fa = falseAlarmsPerHour(pred, labels, times);
    assert.equal(fa.alarms, 1);
    close(fa.normalHours, 5 / 3600);
    close(fa.perHour, 720);
  });

  it('sweeps thresholds once for all curve metrics', () => {
    const sw = thresholdSweep([3, 2, 2, 1], [1, 0, 1, 0]);
    assert.deepEqual([...sw.thresholds], [3, 2, 1]);
    assert.deepEqual([...sw.tp], [1, 2, 2]);
    assert.deepEqual([...sw.fp], [0, 1, 2]);
  });

  it('counts injected faults detected when an alarmed window ends inside the fault interval', () => {
    // windows end at 10, 11, …, 29 s; alarms at window ends 14 s and 25 s
    const n = 20;
    const times = Float64Array.from({ length: 2 * n }, (_, k) => (k % 2 ? 10 + (k - 1) / 2 : 10 + k / 2 - 5) * 1000);
    const pred = Uint8Array.from({ length: n }, (_, i) => (i === 4 || i === 15 ? 1 : 0));
    const r = faultEventRecall(pred, times, [
      { type: 'pod-kill', fromMs: 12_000, toMs: 17_000 }, // alarm at 14 s: delay 2 s
      { type: 'pod-kill', fromMs: 14_000, toMs: 15_000 }, // the same alarm, delay 0
      { type: 'pod-kill', fromMs: 18_000, toMs: 25_000 }, // alarm at 25 s is outside [18, 25)
      { type: 'cpu-stress', fromMs: 24_500, toMs: 30_000 }, // alarm at 25 s: delay 0.5 s
      { type: 'cpu-stress', fromMs: 5_000, toMs: 12_000 }, // starts before the split: not counted
      { type: 'cpu-stress', fromMs: 40_000, toMs: 45_000 }, // after the split: not counted
    ]);
    assert.deepEqual(r, [
      { faultType: 'cpu-stress', faults: 1, detected: 1, recall: 1, meanDelayMs: 500 },
      { faultType: 'pod-kill', faults: 3, detected: 2, recall: 2 / 3, meanDelayMs: 1000 },
    ]);
    assert.deepEqual(faultEventRecall(new Uint8Array(0), new Float64Array(0), []), []);
  });
});
