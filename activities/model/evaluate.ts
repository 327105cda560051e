import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EvaluateInput, EvaluationHeadline } from './types';
import { readNpyAs, writeNpy } from '../dataset/npy';
import { UsadScorer, combineTerms, type ScoreTerms } from './score';
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
  prCurve,
  recallPerFaultType,
  rocAuc,
  rocCurve,
  thresholdSweep,
  type BestF1,
  type CurvePoint,
  type EpisodeDelay,
  type FalseAlarmRate,
  type FaultEventRecall,
  type FaultSpan,
  type FaultTypeRecall,
  type Prf,
} from './metrics';
import { bestF1Threshold, percentileThreshold, potThreshold, spot, type PotResult } from './thresholds';
import { IsolationForest } from './isolation-forest';
import { mulberry32 } from '../random';
import { ensembleScores } from './ensemble';
import type { DatasetCard } from '../dataset/card';
import { readFaultRecords } from '../dataset/fault-records';
import { faultInterval } from '../dataset/label';

export interface Split {
  windows: Float32Array;
  n: number;
  dim: number;
  labels: Uint8Array;
  /** [n, 2] start/end epoch ms, flattened */
  times: Float64Array;
  faultTypes: (string | null)[];
}

export async function loadSplit(dir: string, name: 'train' | 'val' | 'test'): Promise<Split> {
  const x = await readNpyAs(join(dir, `${name}.npy`), 'float32');
  const n = x.shape[0] ?? 0;
  const dim = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const labelsPath = join(dir, `${name}_labels.npy`);
  const labels = existsSync(labelsPath) ? (await readNpyAs(labelsPath, 'uint8')).data : new Uint8Array(n);
  const timesPath = join(dir, `${name}_times.npy`);
  const times = existsSync(timesPath)
    ? (await readNpyAs(timesPath, 'float64')).data
    : Float64Array.from({ length: 2 * n }, (_, i) => Math.floor(i / 2));
  const ftPath = join(dir, `${name}_fault_types.json`);
  const faultTypes = existsSync(ftPath)
    ? (JSON.parse(await readFile(ftPath, 'utf8')) as (string | null)[])
    : Array.from(labels, (l) => (l ? 'unknown' : null));
  if (labels.length !== n || times.length !== 2 * n || faultTypes.length !== n) {
    throw new Error(`${dir}/${name}: windows, labels, times and fault types disagree in length`);
  }
  return { windows: x.data, n, dim, labels, times, faultTypes };
}

/** Every metric of one detector's scores on the test split at one threshold. */
export interface DetectorMetrics {
  rocAuc: number;
  prAuc: number;
  bestF1: BestF1;
  bestF1PointAdjusted: BestF1;
  threshold: number;
  thresholdMethod: string;
  atThreshold: Prf;
  atThresholdPointAdjusted: Prf;
  perFaultType: FaultTypeRecall[];
  /** per injected fault (from the fault log), by fault type; empty when no fault log is known */
  perFault: FaultEventRecall[];
  delays: EpisodeDelay[];
  meanDelayMs: number | null;
  falseAlarms: FalseAlarmRate;
}

export function detectorMetrics(
  scores: Float64Array,
  test: Split,
  threshold: number,
  thresholdMethod: string,
  faults: readonly FaultSpan[] = [],
): DetectorMetrics {
  const sw = thresholdSweep(scores, test.labels);
  const pred = predict(scores, threshold);
  const delays = detectionDelays(pred, test.labels, test.times, test.faultTypes);
  const found = delays.filter((d) => d.delayMs !== null).map((d) => d.delayMs!);
  return {
    rocAuc: rocAuc(scores, test.labels, sw),
    prAuc: averagePrecision(scores, test.labels, sw),
    bestF1: bestF1(scores, test.labels, sw),
    bestF1PointAdjusted: bestF1PointAdjusted(scores, test.labels),
    threshold,
    thresholdMethod,
    atThreshold: confusion(pred, test.labels),
    atThresholdPointAdjusted: confusion(pointAdjust(pred, test.labels), test.labels),
    perFaultType: recallPerFaultType(pred, test.labels, test.faultTypes),
    perFault: faultEventRecall(pred, test.times, faults),
    delays,
    meanDelayMs: found.length ? found.reduce((a, b) => a + b, 0) / found.length : null,
    falseAlarms: falseAlarmsPerHour(pred, test.labels, test.times),
  };
}

export interface ThresholdChoice {
  method: 'best-f1-val' | 'pot' | 'percentile';
  threshold: number;
  detail?: unknown;
}

/**
 * Thresholds from the validation split only (the test set never picks its own threshold). The chosen
 * one is best-F1 when validation holds both classes, else POT on the normal validation scores, else the
 * 99th percentile.
 */
export function chooseThresholds(
  valScores: Float64Array,
  valLabels: Uint8Array,
  potQ = 1e-3,
): { chosen: ThresholdChoice; all: ThresholdChoice[] } {
  const all: ThresholdChoice[] = [];
  const positives = valLabels.reduce((a, b) => a + (b > 0 ? 1 : 0), 0);
  if (positives > 0 && positives < valLabels.length) {
    const b = bestF1Threshold(valScores, valLabels);
    all.push({ method: 'best-f1-val', threshold: b.threshold, detail: { valF1: b.f1 } });
  }
  const normal = valScores.filter((_, i) => !(valLabels[i]! > 0));
  if (normal.length >= 100) {
    try {
      // 0.98 as in Siffer et al., lowered on small splits so the GPD sees at least 20 peaks
      const level = Math.min(0.98, 1 - 20 / normal.length);
      const pot: PotResult = potThreshold(normal, potQ, level);
      all.push({ method: 'pot', threshold: pot.threshold, detail: pot });
    } catch {
      // too few peaks for a GPD fit: POT is simply not offered for this split
    }
  }
  if (normal.length > 0) {
    all.push({ method: 'percentile', threshold: percentileThreshold(normal, undefined, 0.99), detail: { q: 0.99 } });
  }
  const chosen = all[0];
  if (!chosen) throw new Error('validation split is empty: no threshold can be chosen');
  return { chosen, all };
}

export interface SweepRow {
  alpha: number;
  beta: number;
  rocAuc: number;
  prAuc: number;
  bestF1: number;
  bestF1PointAdjusted: number;
  /** best F1 on validation (when labelled): a fair way to pick α without looking at test */
  valBestF1: number | null;
}

export async function alphaBetaSweep(
  test: ScoreTerms,
  testLabels: Uint8Array,
  val: ScoreTerms,
  valLabels: Uint8Array,
  steps = 10,
  beat: (stage: string) => Promise<void> = () => Promise.resolve(),
): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  const valLabelled = valLabels.some((v) => v > 0) && valLabels.some((v) => v === 0);
  for (let k = 0; k <= steps; k++) {
    const alpha = k / steps;
    const beta = 1 - alpha;
    const s = combineTerms(test, alpha, beta);
    const sw = thresholdSweep(s, testLabels);
    rows.push({
      alpha,
      beta,
      rocAuc: rocAuc(s, testLabels, sw),
      prAuc: averagePrecision(s, testLabels, sw),
      bestF1: bestF1(s, testLabels, sw).f1,
      bestF1PointAdjusted: bestF1PointAdjusted(s, testLabels).f1,
      valBestF1: valLabelled ? bestF1(combineTerms(val, alpha, beta), valLabels).f1 : null,
    });
    await beat('sweep');
  }
  return rows;
}

/** The machine-readable evaluation (results/results.json). */
export interface EvaluationResults {
  campaignId: string;
  createdMs: number;
  onnxPath: string;
  alpha: number;
  beta: number;
  windows: { val: number; test: number; testAnomalous: number };
  thresholds: ThresholdChoice[];
  chosenThreshold: ThresholdChoice;
  /** the split thresholds were picked on: 'val', or 'train' when validation held no normal window */
  thresholdSplit?: 'val' | 'train';
  usad: DetectorMetrics;
  /** the USAD test metrics at every threshold method */
  byThresholdMethod: Record<string, { threshold: number; atThreshold: Prf; falseAlarmsPerHour: number }>;
  baselines: Record<string, Omit<DetectorMetrics, 'delays' | 'perFaultType' | 'perFault'> & { note: string }>;
  sweep: SweepRow[];
  curves: { roc: CurvePoint[]; pr: CurvePoint[] };
  /** test scores thinned for plotting: window end time, score, label */
  series: { t: number[]; score: number[]; label: number[] };
  scoring: { windowsPerSec: number; seconds: number; batchSize: number };
  scoresPath: string;
}

function thinSeries(test: Split, scores: Float64Array, max = 1500): EvaluationResults['series'] {
  const step = Math.max(1, Math.ceil(test.n / max));
  const t: number[] = [];
  const score: number[] = [];
  const label: number[] = [];
  for (let i = 0; i < test.n; i += step) {
    // Keep the maximum score of each bucket so short spikes stay visible.
    let m = i;
    let lab = 0;
    for (let j = i; j < Math.min(test.n, i + step); j++) {
      if (scores[j]! > scores[m]!) m = j;
      lab = Math.max(lab, test.labels[j]!);
    }
    t.push(test.times[2 * m + 1]!);
    score.push(scores[m]!);
    label.push(lab);
  }
  return { t, score, label };
}

function withoutDetail(
  m: DetectorMetrics,
  note: string,
): Omit<DetectorMetrics, 'delays' | 'perFaultType' | 'perFault'> & { note: string } {
  const { delays: _d, perFaultType: _p, perFault: _f, ...rest } = m;
  return { ...rest, note };
}

export interface EvaluateOptions {
  intraOpThreads?: number;
  batchSize?: number;
  iforestTrees?: number;
  /** called between stages and scoring batches (the activity heartbeats from it) */
  onProgress?: (stage: string, detail?: Record<string, number>) => void;
}

export async function evaluate(input: EvaluateInput, opts: EvaluateOptions = {}): Promise<EvaluationHeadline> {
  const dir = input.dataset.dir;
  // Report progress and yield to the event loop, so heartbeats go out between CPU-bound stages.
  const beat = async (stage: string, detail?: Record<string, number>): Promise<void> => {
    opts.onProgress?.(stage, detail);
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  await beat('load');
  const [loadedVal, test, train] = await Promise.all([
    loadSplit(dir, 'val'),
    loadSplit(dir, 'test'),
    loadSplit(dir, 'train'),
  ]);
  // A campaign stopped early can leave no validation window with a normal label (a 40 s baseline has
  // no room for a validation tail). Thresholds then come from the training split, normal by
  // construction, rather than failing the whole evaluation: noted in results.json.
  const valUsable = loadedVal.n > 0 && loadedVal.labels.some((l) => l === 0);
  const val = valUsable ? loadedVal : train;
  const thresholdSplit: 'val' | 'train' = valUsable ? 'val' : 'train';
  const alpha = input.model.alpha;
  const beta = input.model.beta;

  const scorer = await UsadScorer.open(input.trained.onnxPath, test.dim, {
    intraOpThreads: opts.intraOpThreads,
    batchSize: opts.batchSize,
  });
  let valTerms: ScoreTerms;
  let testTerms: ScoreTerms;
  const t0 = performance.now();
  try {
    valTerms = await scorer.terms(val.windows, (done, total) => opts.onProgress?.('score-val', { done, total }));
    testTerms = await scorer.terms(test.windows, (done, total) => opts.onProgress?.('score-test', { done, total }));
  } finally {
    await scorer.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const valScores = combineTerms(valTerms, alpha, beta);
  const testScores = combineTerms(testTerms, alpha, beta);

  await beat('thresholds');
  const { chosen, all } = chooseThresholds(valScores, val.labels);
  const faults = await faultSpans(input.dataset.cardPath, input.dataDir);
  const usad = detectorMetrics(testScores, test, chosen.threshold, chosen.method, faults);
  const byThresholdMethod: EvaluationResults['byThresholdMethod'] = {};
  for (const c of all) {
    const pred = predict(testScores, c.threshold);
    byThresholdMethod[c.method] = {
      threshold: c.threshold,
      atThreshold: confusion(pred, test.labels),
      falseAlarmsPerHour: falseAlarmsPerHour(pred, test.labels, test.times).perHour,
    };
  }
  // SPOT: calibrated on the normal validation scores, then streamed over the test scores in time
  // order, updating its tail model; its threshold is per window, so it is reported beside the others.
  const pot = all.find((c) => c.method === 'pot');
  if (pot) {
    const normal = valScores.filter((_, i) => !(val.labels[i]! > 0));
    const level = Math.min(0.98, 1 - 20 / normal.length);
    // ~50 refits over the stream whatever its length: bounded blocking time between heartbeats
    const refitEvery = Math.max(10, Math.ceil(((1 - level) * test.n) / 50));
    await beat('spot');
    const sp = spot(normal, testScores, 1e-3, level, refitEvery);
    byThresholdMethod.spot = {
      threshold: sp.final.threshold,
      atThreshold: confusion(sp.alarms, test.labels),
      falseAlarmsPerHour: falseAlarmsPerHour(sp.alarms, test.labels, test.times).perHour,
    };
  }

  // Baselines: Isolation Forest on flattened windows fitted on the (normal) training split,
  // a USAD+IForest ensemble, and random scores (what chance looks like on this label balance).
  const baselines: EvaluationResults['baselines'] = {};
  await beat('iforest-fit');
  const forest = IsolationForest.fit(train.windows, train.dim, {
    seed: input.model.seed,
    trees: opts.iforestTrees ?? 100,
  });
  const scoreChunked = async (split: Split, stage: string): Promise<Float64Array> => {
    const out = new Float64Array(split.n);
    const chunk = 5000;
    for (let s = 0; s < split.n; s += chunk) {
      const e = Math.min(split.n, s + chunk);
      out.set(forest.score(split.windows.subarray(s * split.dim, e * split.dim)), s);
      await beat(stage, { done: e, total: split.n });
    }
    return out;
  };
  const ifVal = await scoreChunked(val, 'iforest-val');
  const ifTest = await scoreChunked(test, 'iforest-test');
  const thr = (s: Float64Array): { chosen: ThresholdChoice } => chooseThresholds(s, val.labels);
  const ifChoice = thr(ifVal).chosen;
  baselines.isolationForest = withoutDetail(
    detectorMetrics(ifTest, test, ifChoice.threshold, ifChoice.method, faults),
    'Isolation Forest (100 trees, ψ = 256) on flattened windows, fitted on train',
  );
  for (const method of ['rank', 'z'] as const) {
    const ensVal = ensembleScores(
      [
        { scores: valScores, reference: valScores },
        { scores: ifVal, reference: ifVal },
      ],
      method,
    );
    const ensTest = ensembleScores(
      [
        { scores: testScores, reference: valScores },
        { scores: ifTest, reference: ifVal },
      ],
      method,
    );
    const c = thr(ensVal).chosen;
    baselines[`ensemble-${method}`] = withoutDetail(
      detectorMetrics(ensTest, test, c.threshold, c.method, faults),
      `mean of USAD and IForest scores, ${method === 'rank' ? 'rank' : 'z'}-normalised against validation`,
    );
  }
  await beat('baselines');
  const rand = mulberry32(input.model.seed + 1);
  const rTest = Float64Array.from({ length: test.n }, () => rand());
  baselines.random = withoutDetail(detectorMetrics(rTest, test, 0.99, 'fixed 0.99', faults), 'uniform random scores');

  const resultsDir = join(input.dataDir, 'results');
  await mkdir(resultsDir, { recursive: true });
  const scoresPath = join(resultsDir, 'scores.npy');
  await writeNpy(scoresPath, { dtype: 'float64', shape: [test.n], data: testScores });
  await writeNpy(join(resultsDir, 'score_terms.npy'), {
    dtype: 'float64',
    shape: [2, test.n],
    data: Float64Array.from([...testTerms.err1, ...testTerms.err2]),
  });

  await beat('sweep');
  const sweep = await alphaBetaSweep(testTerms, test.labels, valTerms, val.labels, 10, beat);
  const sw = thresholdSweep(testScores, test.labels);
  const results: EvaluationResults = {
    campaignId: input.campaignId,
    createdMs: Date.now(),
    onnxPath: input.trained.onnxPath,
    alpha,
    beta,
    windows: { val: val.n, test: test.n, testAnomalous: test.labels.reduce((a, b) => a + (b > 0 ? 1 : 0), 0) },
    thresholds: all,
    chosenThreshold: chosen,
    thresholdSplit,
    usad,
    byThresholdMethod,
    baselines,
    sweep,
    curves: { roc: rocCurve(sw), pr: prCurve(sw) },
    series: thinSeries(test, testScores),
    scoring: { windowsPerSec: (val.n + test.n) / seconds, seconds, batchSize: opts.batchSize ?? 4096 },
    scoresPath,
  };
  const resultsPath = join(resultsDir, 'results.json');
  await writeFile(
    resultsPath,
    JSON.stringify(results, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2),
  );
  return {
    resultsPath,
    rocAuc: usad.rocAuc,
    prAuc: usad.prAuc,
    bestF1: usad.bestF1.f1,
    bestF1PointAdjusted: usad.bestF1PointAdjusted.f1,
    f1AtThreshold: usad.atThreshold.f1,
    threshold: chosen.threshold,
    faultRecall: Object.fromEntries(usad.perFault.map((r) => [r.faultType, r.recall])),
  };
}

/** The injected faults' labelled intervals, from the fault log and margin the dataset card names. */
async function faultSpans(cardPath: string, dataDir: string): Promise<FaultSpan[]> {
  if (!existsSync(cardPath)) return [];
  const card = JSON.parse(await readFile(cardPath, 'utf8')) as DatasetCard;
  const log = card.labelling.faultLog === null ? null : resolve(dataDir, card.labelling.faultLog);
  if (!log || !existsSync(log)) return [];
  const out: FaultSpan[] = [];
  for (const f of await readFaultRecords(log)) {
    const iv = faultInterval(f, card.labelling.marginMs);
    if (iv) out.push({ type: f.type, fromMs: iv.from, toMs: iv.to });
  }
  return out;
}
