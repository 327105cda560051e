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
import { vus } from './vus';
import { causalStreamNormalise, nearestWindowDistances, STREAM_MIN_HISTORY } from './nearest-window';
import { MULTISCALE_SCALES, multiscaleCombine, multiscaleRaw, rowsFromWindows } from './nearest-window-multiscale';
import { DEFAULT_TRAILING_Z, trailingRobustZ, zSeries, type Affine } from './trailing-robust-z';
import { alarmOutcome, applyAlarmRule, chooseAlarmRule, type AlarmOutcome, type AlarmRule } from './alarms';
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
  /** VUS-PR / VUS-ROC (Paparrizos et al. 2022, vus.ts) over buffers 0 … vusMaxBuffer windows */
  vusPr: number;
  vusRoc: number;
  vusMaxBuffer: number;
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
  faults: readonly FaultSpan[],
  vusMaxBuffer: number,
): DetectorMetrics {
  const sw = thresholdSweep(scores, test.labels);
  const pred = predict(scores, threshold);
  const delays = detectionDelays(pred, test.labels, test.times, test.faultTypes);
  const found = delays.filter((d) => d.delayMs !== null).map((d) => d.delayMs!);
  const v = vus(scores, test.labels, vusMaxBuffer);
  const positives = sw.positives > 0;
  return {
    rocAuc: rocAuc(scores, test.labels, sw),
    prAuc: averagePrecision(scores, test.labels, sw),
    vusPr: v.vusPr,
    vusRoc: v.vusRoc,
    vusMaxBuffer,
    // with no anomalous window, F1 is undefined rather than 0
    bestF1: positives ? bestF1(scores, test.labels, sw) : undefinedF1(),
    bestF1PointAdjusted: positives ? bestF1PointAdjusted(scores, test.labels) : undefinedF1(),
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

function undefinedF1(): BestF1 {
  return { f1: Number.NaN, precision: Number.NaN, recall: Number.NaN, threshold: Number.NaN };
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

/** One member of the detector suite, as results.json records it. */
export interface DetectorResult {
  name: string;
  description: string;
  kind: 'learned' | 'non-learned' | 'ensemble' | 'reference';
  /** why the detector cannot score this data (constant scores); null when it can */
  cannotScore: string | null;
  /** takes part in the default choice (scorable and not a reference) */
  eligible: boolean;
  /** test-split metrics at the threshold chosen on validation; null when it cannot score */
  test: DetectorMetrics | null;
  /** metrics on the labelled validation split (null when validation holds one class only) */
  validation: { rocAuc: number; prAuc: number; vusPr: number; bestF1: number } | null;
  /** the alarm rule chosen on validation and its outcome on both splits */
  alarm: DetectorAlarm | null;
  /** ensemble members */
  members?: string[];
}

export interface DetectorAlarm {
  rule: AlarmRule;
  /** 'validation-labels': chosen on validation's labelled faults; 'label-free': threshold only, k = n = 1 */
  basis: 'validation-labels' | 'label-free';
  constraintMet: boolean | null;
  minRecall: number;
  why: string;
  validation: AlarmOutcome | null;
  test: AlarmOutcome;
  /** fault kinds in the test split that validation did not hold: the rule could not be checked on them */
  unseenKinds: string[];
}

/** How the campaign's default detector was picked (never from the test split). */
export interface DetectorChoice {
  detector: string;
  rule: 'validation-labels' | 'label-free';
  why: string;
  /** eligible detectors in the order the rule ranked them, with the values it compared */
  ranking: { name: string; values: Record<string, number | boolean | null> }[];
}

/** Splits and what they leave undefined. */
export interface SplitCoverage {
  split: 'val' | 'test';
  windows: number;
  normal: number;
  anomalous: number;
  /** null when both classes are present; else which metrics are undefined and which duration to lengthen */
  undefinedWhy: string | null;
}

/** The machine-readable evaluation (results/results.json). */
export interface EvaluationResults {
  campaignId: string;
  createdMs: number;
  onnxPath: string;
  alpha: number;
  beta: number;
  windows: { val: number; test: number; testAnomalous: number };
  coverage: SplitCoverage[];
  thresholds: ThresholdChoice[];
  chosenThreshold: ThresholdChoice;
  /** the split thresholds were picked on: 'val', or 'train' when validation held no normal window */
  thresholdSplit?: 'val' | 'train';
  /** every detector of the suite, side by side (the random reference last) */
  detectors: DetectorResult[];
  chosen: DetectorChoice;
  /** USAD's test metrics (kept for the USAD-specific sections: threshold methods, α/β sweep) */
  usad: DetectorMetrics;
  /** the USAD test metrics at every threshold method */
  byThresholdMethod: Record<string, { threshold: number; atThreshold: Prf; falseAlarmsPerHour: number }>;
  sweep: SweepRow[];
  /** the chosen detector's curves and score series */
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

/** Which metrics a split's class balance leaves undefined, and the duration that would fix it. */
export function splitCoverage(split: Split, name: 'val' | 'test'): SplitCoverage {
  const anomalous = split.labels.reduce((a, b) => a + (b > 0 ? 1 : 0), 0);
  const normal = split.n - anomalous;
  const where =
    name === 'test'
      ? 'the test split is the end of the chaos phase: lengthen durations.chaos'
      : 'the validation split is the end of the baseline plus the start of the chaos phase: lengthen durations.baseline (normal windows) or durations.chaos (anomalous windows)';
  let undefinedWhy: string | null = null;
  if (split.n === 0) undefinedWhy = `the ${name} split has no window: every metric on it is undefined; ${where}`;
  else if (normal === 0)
    undefinedWhy = `the ${name} split has no normal window: ROC-AUC, VUS-ROC and false alarms per hour are undefined; ${where}${name === 'test' ? ' (with quiet gaps: chaos.episodes)' : ''}`;
  else if (anomalous === 0)
    undefinedWhy = `the ${name} split has no anomalous window: ROC-AUC, PR-AUC, VUS, best F1 and recall are undefined; ${where}`;
  return { split: name, windows: split.n, normal, anomalous, undefinedWhy };
}

/**
 * Scores that cannot rank anything: every window of the split got the same score (e.g. Isolation
 * Forest on training features that are constant: every tree is one leaf). Decided on validation
 * scores only, so the test split never decides what is reported.
 */
export function constantScoresReason(valScores: ArrayLike<number>): string | null {
  if (valScores.length === 0) return null;
  const first = valScores[0]!;
  for (let i = 1; i < valScores.length; i++) if (valScores[i] !== first) return null;
  return `every validation window scores ${first}: constant scores cannot rank windows`;
}

export interface SuiteMember {
  name: string;
  description: string;
  kind: DetectorResult['kind'];
  val: Float64Array | null;
  test: Float64Array | null;
  cannotScore: string | null;
  members?: string[];
}

/** Label-free preference (docs/detection.md): the MSL benchmark's best label-free detector first. */
export const LABEL_FREE_ORDER = [
  'nearest-window-multiscale',
  'nearest-window-stream',
  'usad',
  'ensemble',
  'nearest-window',
  'isolation-forest',
  // not measured on MSL (one series per channel: its strength, a change against the last minutes of many
  // series in their own units, is a campaign's)
  'trailing-robust-z',
];

/**
 * The default detector, from validation only. With labelled validation windows of both classes:
 * first the detectors whose validation alarm rule keeps every fault kind's recall ≥ 0.95 (among those that
 * do not: the highest lowest recall first, the objective each rule search maximised), then fewest
 * validation false alarms per quiet hour, then highest validation VUS-PR, then PR-AUC. Without: the
 * first scorable detector of LABEL_FREE_ORDER.
 */
export function chooseDetector(detectors: readonly DetectorResult[], valLabelled: boolean): DetectorChoice {
  const eligible = detectors.filter((d) => d.eligible);
  if (eligible.length === 0) throw new Error('no detector of the suite can score this data');
  if (valLabelled) {
    const vals = (d: DetectorResult) => ({
      constraintMet: d.alarm?.constraintMet ?? false,
      valMinRecall: finiteOr(d.alarm?.validation?.minRecall, -1),
      valFalseAlarmsPerHour: finiteOr(d.alarm?.validation?.falseAlarms.perHour, Number.POSITIVE_INFINITY),
      valVusPr: finiteOr(d.validation?.vusPr, -1),
      valPrAuc: finiteOr(d.validation?.prAuc, -1),
    });
    const ranked = [...eligible].sort((a, b) => {
      const x = vals(a);
      const y = vals(b);
      if (x.constraintMet !== y.constraintMet) return x.constraintMet ? -1 : 1;
      // when no rule reaches the recall goal, the detector nearest to it (what each rule search maximised)
      if (!x.constraintMet && x.valMinRecall !== y.valMinRecall) return y.valMinRecall - x.valMinRecall;
      if (x.valFalseAlarmsPerHour !== y.valFalseAlarmsPerHour) return x.valFalseAlarmsPerHour - y.valFalseAlarmsPerHour;
      if (x.valVusPr !== y.valVusPr) return y.valVusPr - x.valVusPr;
      return y.valPrAuc - x.valPrAuc;
    });
    const best = ranked[0]!;
    const v = vals(best);
    return {
      detector: best.name,
      rule: 'validation-labels',
      why:
        `validation holds labelled faults: ${v.constraintMet ? 'its alarm rule keeps every fault kind ≥ 0.95 recall on validation, ' : `no detector kept every fault kind ≥ 0.95 recall on validation: the highest lowest recall (${fmtV(v.valMinRecall)}), then `}` +
        `fewest validation false alarms per quiet hour (${fmtV(v.valFalseAlarmsPerHour)}), then highest validation VUS-PR (${fmtV(v.valVusPr)}); the test split is not read`,
      ranking: ranked.map((d) => ({ name: d.name, values: vals(d) })),
    };
  }
  const ranked = [...eligible].sort((a, b) => rankOf(a.name) - rankOf(b.name));
  const best = ranked[0]!;
  return {
    detector: best.name,
    rule: 'label-free',
    why: `validation holds no labelled fault, so no detector can be compared on it: the first scorable detector of the label-free preference ${LABEL_FREE_ORDER.join(' > ')} (the order of the MSL benchmark's results, a choice made on MSL's test labels: docs/msl-benchmark.md)`,
    ranking: ranked.map((d) => ({ name: d.name, values: { preference: rankOf(d.name) } })),
  };
}

/**
 * The multi-scale nearest-window detector as a suite member: the splits' rows rebuilt from their
 * windows, or the reason it cannot score (windows not slices of one table, too short a training run).
 */
async function multiscaleMember(
  train: Split,
  val: Split,
  test: Split,
  windowSize: number,
  yieldTo: () => Promise<void>,
): Promise<SuiteMember> {
  const scales = MULTISCALE_SCALES.map((s) => `${s.rep} ${s.lengths.join('/')}`).join(', ');
  const base = {
    name: 'nearest-window-multiscale',
    description: `mean of stream-normalised nearest-window distances at several window lengths (rows: ${scales}; difference = first difference of the rows), each window ending where the dataset window ends (causal; seeded by validation medians)`,
    kind: 'non-learned' as const,
  };
  try {
    const rows = (s: Split, name: string) => rowsFromWindows(s.windows, s.n, windowSize, s.times, name);
    const tr = rows(train, 'train');
    const rawVal = await multiscaleRaw(tr, rows(val, 'val'), yieldTo);
    const rawTest = await multiscaleRaw(tr, rows(test, 'test'), yieldTo);
    const { val: v, test: t } = multiscaleCombine(rawVal, rawTest);
    return { ...base, val: v, test: t, cannotScore: constantScoresReason(v) };
  } catch (err) {
    return { ...base, val: null, test: null, cannotScore: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * The trailing robust z detector as a suite member (trailing-robust-z.ts): the splits' rows rebuilt from their
 * windows and read as one stream in time order (train, validation, test), so the first validation rows have the
 * baseline as history; a window's score is its last row's. Series are read back in their unit with the
 * dataset's scaler (absent: as scaled) and named by the dataset's features.
 */
async function trailingZMember(
  dir: string,
  features: readonly string[],
  train: Split,
  val: Split,
  test: Split,
  windowSize: number,
): Promise<SuiteMember> {
  const o = DEFAULT_TRAILING_Z;
  const base = {
    name: 'trailing-robust-z',
    description: `each series' directed deviation from the median of its own previous ${o.horizon} rows, over max(IQR, the metric's floor); the largest series (causal, label-free, nothing fitted: the localiser's symptom score as a stream)`,
    kind: 'non-learned' as const,
  };
  try {
    const scalerPath = join(dir, 'scaler.json');
    const scaler = existsSync(scalerPath) ? (JSON.parse(await readFile(scalerPath, 'utf8')) as Affine) : null;
    const parts = [train, val, test].map((s, i) =>
      rowsFromWindows(s.windows, s.n, windowSize, s.times, ['train', 'val', 'test'][i]!),
    );
    const F = parts[0]!.features;
    if (F !== features.length) throw new Error(`the dataset names ${features.length} features, its windows hold ${F}`);
    // global row index of each segment's first row
    const starts: number[][] = [];
    let total = 0;
    for (const p of parts) {
      const s: number[] = [];
      for (const seg of p.segments) {
        s.push(total);
        total += seg.length / F;
      }
      starts.push(s);
    }
    const rows = new Float64Array(total * F);
    parts.forEach((p, i) => p.segments.forEach((seg, j) => rows.set(seg, starts[i]![j]! * F)));
    const z = trailingRobustZ(zSeries(rows, total, features, scaler), total, o);
    const at = (i: number) => Float64Array.from(parts[i]!.ends, (e) => z[starts[i]![e.segment]! + e.row]!);
    const v = at(1);
    return { ...base, val: v, test: at(2), cannotScore: constantScoresReason(v) };
  } catch (err) {
    return { ...base, val: null, test: null, cannotScore: err instanceof Error ? err.message : String(err) };
  }
}

function rankOf(name: string): number {
  const i = LABEL_FREE_ORDER.indexOf(name);
  return i < 0 ? LABEL_FREE_ORDER.length : i;
}

function finiteOr(v: number | null | undefined, dflt: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : dflt;
}

function fmtV(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3) : String(v);
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
  const valLabelled = valUsable && val.labels.some((l) => l > 0);
  const coverage = [splitCoverage(loadedVal, 'val'), splitCoverage(test, 'test')];
  const alpha = input.model.alpha;
  const beta = input.model.beta;
  const vusBuffer = Math.max(0, Math.round(input.dataset.windowSize));

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
  const usad = detectorMetrics(testScores, test, chosen.threshold, chosen.method, faults, vusBuffer);
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

  // ---- the suite: USAD, nearest normal window (raw and stream-normalised), Isolation Forest, ensemble
  const members: SuiteMember[] = [
    {
      name: 'usad',
      description: 'two-decoder adversarial autoencoder (ONNX in Node)',
      kind: 'learned',
      val: valScores,
      test: testScores,
      cannotScore: constantScoresReason(valScores),
    },
  ];
  await beat('nearest-window');
  const nnVal = nearestWindowDistances(train.windows, val.windows, train.dim);
  await beat('nearest-window');
  const nnTest = nearestWindowDistances(train.windows, test.windows, train.dim);
  members.push({
    name: 'nearest-window',
    description: 'Euclidean distance to the nearest training window (exact)',
    kind: 'non-learned',
    val: nnVal,
    test: nnTest,
    cannotScore: constantScoresReason(nnVal),
  });
  // One stream in time order: validation (baseline tail, chaos head), then test (chaos rest).
  const nnsVal = causalStreamNormalise(nnVal);
  const nnsTest = causalStreamNormalise(nnTest, nnVal);
  members.push({
    name: 'nearest-window-stream',
    description: `nearest-window distance over the median of the stream's earlier distances (causal, label-free; warm-up ${STREAM_MIN_HISTORY} windows)`,
    kind: 'non-learned',
    val: nnsVal,
    test: nnsTest,
    cannotScore: constantScoresReason(nnsVal),
  });
  await beat('nearest-window-multiscale');
  members.push(
    await multiscaleMember(train, val, test, input.dataset.windowSize, () => beat('nearest-window-multiscale')),
  );
  await beat('trailing-robust-z');
  members.push(await trailingZMember(dir, input.dataset.features, train, val, test, input.dataset.windowSize));
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
  const ifDescription = `Isolation Forest (${opts.iforestTrees ?? 100} trees, ψ = ${forest.subsample}) on flattened windows, fitted on train`;
  if (forest.isTrivial()) {
    members.push({
      name: 'isolation-forest',
      description: ifDescription,
      kind: 'non-learned',
      val: null,
      test: null,
      cannotScore:
        'every training feature is constant in every subsample, so every tree is a single leaf and every window gets the same score',
    });
  } else {
    const ifVal = await scoreChunked(val, 'iforest-val');
    const ifTest = await scoreChunked(test, 'iforest-test');
    members.push({
      name: 'isolation-forest',
      description: ifDescription,
      kind: 'non-learned',
      val: ifVal,
      test: ifTest,
      cannotScore: constantScoresReason(ifVal),
    });
  }
  const scorable = members.filter((m) => m.cannotScore === null && m.val && m.test);
  if (scorable.length >= 2) {
    const ref = scorable.map((m) => ({ scores: m.val!, reference: m.val! }));
    const ensVal = ensembleScores(ref, 'robust');
    const ensTest = ensembleScores(
      scorable.map((m) => ({ scores: m.test!, reference: m.val! })),
      'robust',
    );
    members.push({
      name: 'ensemble',
      description: `mean of ${scorable.map((m) => m.name).join(', ')}, each scaled by its validation median and 99th percentile`,
      kind: 'ensemble',
      val: ensVal,
      test: ensTest,
      cannotScore: constantScoresReason(ensVal),
      members: scorable.map((m) => m.name),
    });
  } else {
    members.push({
      name: 'ensemble',
      description: 'mean of the scorable detectors',
      kind: 'ensemble',
      val: null,
      test: null,
      cannotScore: `needs two detectors that can score; only ${scorable.map((m) => m.name).join(', ') || 'none'} can`,
    });
  }

  const detectors: DetectorResult[] = [];
  for (const m of members) {
    await beat(`detector-${m.name}`);
    detectors.push(
      m.name === 'usad' && m.cannotScore === null
        ? detectorResult(m, val, test, faults, vusBuffer, valLabelled, usad)
        : detectorResult(m, val, test, faults, vusBuffer, valLabelled),
    );
  }
  // Random scores: what chance looks like on this label balance, the only company point-adjusted F1 keeps.
  const rand = mulberry32(input.model.seed + 1);
  const rTest = Float64Array.from({ length: test.n }, () => rand());
  detectors.push({
    name: 'random',
    description: 'uniform random scores (the reference point-adjusted F1 must be read against)',
    kind: 'reference',
    cannotScore: null,
    eligible: false,
    test: detectorMetrics(rTest, test, 0.99, 'fixed 0.99', faults, vusBuffer),
    validation: null,
    alarm: null,
  });
  const choice = chooseDetector(detectors, valLabelled);
  const chosenDet = detectors.find((d) => d.name === choice.detector)!;
  const chosenMember = members.find((m) => m.name === choice.detector)!;
  const chosenTest = chosenMember.test!;

  const resultsDir = join(input.dataDir, 'results');
  await mkdir(resultsDir, { recursive: true });
  const scoresPath = join(resultsDir, 'scores.npy');
  await writeNpy(scoresPath, { dtype: 'float64', shape: [test.n], data: chosenTest });
  // Each scoring detector's test scores beside the chosen one's: `faultline score` scores new data with the
  // USAD model and is checked against scores-usad.npy whichever detector the campaign chose.
  for (const m of members) {
    if (m.cannotScore === null && m.test) {
      await writeNpy(join(resultsDir, `scores-${m.name}.npy`), { dtype: 'float64', shape: [test.n], data: m.test });
    }
  }
  await writeNpy(join(resultsDir, 'score_terms.npy'), {
    dtype: 'float64',
    shape: [2, test.n],
    data: Float64Array.from([...testTerms.err1, ...testTerms.err2]),
  });

  await beat('sweep');
  const sweep = await alphaBetaSweep(testTerms, test.labels, valTerms, val.labels, 10, beat);
  const sw = thresholdSweep(chosenTest, test.labels);
  const results: EvaluationResults = {
    campaignId: input.campaignId,
    createdMs: Date.now(),
    onnxPath: input.trained.onnxPath,
    alpha,
    beta,
    windows: { val: val.n, test: test.n, testAnomalous: test.labels.reduce((a, b) => a + (b > 0 ? 1 : 0), 0) },
    coverage,
    thresholds: all,
    chosenThreshold: chosen,
    thresholdSplit,
    detectors,
    chosen: choice,
    usad,
    byThresholdMethod,
    sweep,
    curves: { roc: rocCurve(sw), pr: prCurve(sw) },
    series: thinSeries(test, chosenTest),
    scoring: { windowsPerSec: (val.n + test.n) / seconds, seconds, batchSize: opts.batchSize ?? 4096 },
    scoresPath,
  };
  const resultsPath = join(resultsDir, 'results.json');
  await writeFile(
    resultsPath,
    JSON.stringify(results, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2),
  );
  const m = chosenDet.test!;
  const random = detectors.find((d) => d.name === 'random')!.test!;
  const alarm = chosenDet.alarm;
  const undefinedWhy = coverage.map((c) => c.undefinedWhy).filter((w): w is string => w !== null);
  return {
    resultsPath,
    detector: choice.detector,
    choiceWhy: choice.why,
    rocAuc: orNull(m.rocAuc),
    prAuc: orNull(m.prAuc),
    vusPr: orNull(m.vusPr),
    bestF1: orNull(m.bestF1.f1),
    bestF1PointAdjusted: orNull(m.bestF1PointAdjusted.f1),
    randomBestF1PointAdjusted: orNull(random.bestF1PointAdjusted.f1),
    f1AtThreshold: orNull(m.atThreshold.f1),
    threshold: orNull(m.threshold),
    faultRecall: Object.fromEntries(m.perFault.map((r) => [r.faultType, r.recall])),
    ...(alarm
      ? {
          alarms: {
            falseAlarmsPerHour: orNull(alarm.test.falseAlarms.perHour),
            quietRunsPerHour: orNull(alarm.test.quietRuns.perHour),
            quietHours: alarm.test.falseAlarms.normalHours,
            recall: Object.fromEntries(alarm.test.recall.map((r) => [r.faultType, r.recall])),
            rule: alarm.rule,
          },
        }
      : {}),
    ...(undefinedWhy.length ? { undefinedWhy } : {}),
  };
}

function orNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** Test metrics, validation metrics and alarm rule of one suite member (none when it cannot score). */
function detectorResult(
  m: SuiteMember,
  val: Split,
  test: Split,
  faults: readonly FaultSpan[],
  vusBuffer: number,
  valLabelled: boolean,
  precomputed?: DetectorMetrics,
): DetectorResult {
  const base = { name: m.name, description: m.description, kind: m.kind, ...(m.members ? { members: m.members } : {}) };
  if (m.cannotScore !== null || !m.val || !m.test) {
    return {
      ...base,
      cannotScore: m.cannotScore ?? 'no scores',
      eligible: false,
      test: null,
      validation: null,
      alarm: null,
    };
  }
  const thr = chooseThresholds(m.val, val.labels).chosen;
  const metrics = precomputed ?? detectorMetrics(m.test, test, thr.threshold, thr.method, faults, vusBuffer);
  let validation: DetectorResult['validation'] = null;
  let alarm: DetectorAlarm;
  if (valLabelled) {
    const vsw = thresholdSweep(m.val, val.labels);
    validation = {
      rocAuc: rocAuc(m.val, val.labels, vsw),
      prAuc: averagePrecision(m.val, val.labels, vsw),
      vusPr: vus(m.val, val.labels, vusBuffer).vusPr,
      bestF1: bestF1(m.val, val.labels, vsw).f1,
    };
    const c = chooseAlarmRule(m.val, val, faults);
    const testOutcome = alarmOutcome(applyAlarmRule(m.test, test.times, c.rule), test, faults);
    const seen = new Set(c.validation.recall.map((r) => r.faultType));
    alarm = {
      rule: c.rule,
      basis: 'validation-labels',
      constraintMet: c.constraintMet,
      minRecall: c.minRecall,
      why: c.why,
      validation: c.validation,
      test: testOutcome,
      unseenKinds: testOutcome.recall.map((r) => r.faultType).filter((k) => !seen.has(k)),
    };
  } else {
    const rule: AlarmRule = { threshold: thr.threshold, k: 1, n: 1, holdMs: 0 };
    const testOutcome = alarmOutcome(applyAlarmRule(m.test, test.times, rule), test, faults);
    alarm = {
      rule,
      basis: 'label-free',
      constraintMet: null,
      minRecall: 0.95,
      why: `validation holds no labelled fault: the ${thr.method} threshold, no debouncing`,
      validation: null,
      test: testOutcome,
      unseenKinds: testOutcome.recall.map((r) => r.faultType),
    };
  }
  return { ...base, cannotScore: null, eligible: m.kind !== 'reference', test: metrics, validation, alarm };
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
