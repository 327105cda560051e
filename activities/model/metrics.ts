/**
 * Detection metrics. Conventions (as in ../shared/anchors/usad-msl): a window is predicted anomalous
 * iff score ≥ threshold; best F1 is the maximum over every distinct score used as the threshold;
 * point-adjust counts a whole true anomaly segment (maximal run of label 1, never crossing a series
 * boundary) as detected when any of its windows is predicted.
 */

export type Labels = ArrayLike<number>;
export type Scores = ArrayLike<number>;

export interface Counts {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

export interface Prf extends Counts {
  precision: number;
  recall: number;
  f1: number;
}

export interface BestF1 {
  f1: number;
  precision: number;
  recall: number;
  threshold: number;
}

export interface CurvePoint {
  x: number;
  y: number;
}

function checkInputs(scores: Scores, labels: Labels): void {
  if (scores.length !== labels.length) throw new Error(`${scores.length} scores but ${labels.length} labels`);
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i])) throw new Error(`score ${i} is NaN`);
  }
}

/** Indices sorted by descending score (the one sort the curve metrics share). */
export function orderDescending(scores: Scores): Uint32Array {
  const idx = new Uint32Array(scores.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  const s = Float64Array.from(scores);
  idx.sort((a, b) => s[b]! - s[a]!);
  return idx;
}

/**
 * Cumulative (tp, fp) at each distinct threshold, from the highest score down: entry k is the
 * confusion at threshold = the k-th distinct score. Tied scores enter together.
 */
export interface ThresholdSweep {
  thresholds: Float64Array;
  tp: Float64Array;
  fp: Float64Array;
  positives: number;
  negatives: number;
}

export function thresholdSweep(scores: Scores, labels: Labels, order?: Uint32Array): ThresholdSweep {
  checkInputs(scores, labels);
  const ord = order ?? orderDescending(scores);
  const thr: number[] = [];
  const tps: number[] = [];
  const fps: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < ord.length; k++) {
    const i = ord[k]!;
    if (labels[i]! > 0) tp++;
    else fp++;
    const next = ord[k + 1];
    if (next === undefined || scores[next] !== scores[i]) {
      thr.push(scores[i]!);
      tps.push(tp);
      fps.push(fp);
    }
  }
  return {
    thresholds: Float64Array.from(thr),
    tp: Float64Array.from(tps),
    fp: Float64Array.from(fps),
    positives: tp,
    negatives: fp,
  };
}

/** ROC-AUC as the Mann–Whitney statistic: ties between a positive and a negative count ½. */
export function rocAuc(scores: Scores, labels: Labels, sweep?: ThresholdSweep): number {
  const sw = sweep ?? thresholdSweep(scores, labels);
  const { positives: P, negatives: N } = sw;
  if (P === 0 || N === 0) return Number.NaN;
  // Trapezoids over the step curve = exact tie-averaged AUC.
  let area = 0;
  let prevTp = 0;
  let prevFp = 0;
  for (let k = 0; k < sw.tp.length; k++) {
    const tp = sw.tp[k]!;
    const fp = sw.fp[k]!;
    area += ((fp - prevFp) * (tp + prevTp)) / 2;
    prevTp = tp;
    prevFp = fp;
  }
  return area / (P * N);
}

/** Average precision (sklearn's definition): Σ (R_k − R_{k−1})·P_k over distinct thresholds. */
export function averagePrecision(scores: Scores, labels: Labels, sweep?: ThresholdSweep): number {
  const sw = sweep ?? thresholdSweep(scores, labels);
  if (sw.positives === 0) return Number.NaN;
  let ap = 0;
  let prevR = 0;
  for (let k = 0; k < sw.tp.length; k++) {
    const tp = sw.tp[k]!;
    const r = tp / sw.positives;
    const p = tp / (tp + sw.fp[k]!);
    ap += (r - prevR) * p;
    prevR = r;
  }
  return ap;
}

/** ROC points (FPR, TPR) from (0,0) to (1,1), thinned to at most `maxPoints` for plotting. */
export function rocCurve(sw: ThresholdSweep, maxPoints = 400): CurvePoint[] {
  const pts: CurvePoint[] = [{ x: 0, y: 0 }];
  if (sw.positives === 0 || sw.negatives === 0) return pts;
  for (let k = 0; k < sw.tp.length; k++) pts.push({ x: sw.fp[k]! / sw.negatives, y: sw.tp[k]! / sw.positives });
  return thin(pts, maxPoints);
}

/** Precision–recall points (recall, precision), thinned to at most `maxPoints`. */
export function prCurve(sw: ThresholdSweep, maxPoints = 400): CurvePoint[] {
  const pts: CurvePoint[] = [];
  if (sw.positives === 0) return pts;
  for (let k = 0; k < sw.tp.length; k++) {
    const tp = sw.tp[k]!;
    pts.push({ x: tp / sw.positives, y: tp / (tp + sw.fp[k]!) });
  }
  return thin(pts, maxPoints);
}

function thin(pts: CurvePoint[], maxPoints: number): CurvePoint[] {
  if (pts.length <= maxPoints) return pts;
  const out: CurvePoint[] = [];
  const step = (pts.length - 1) / (maxPoints - 1);
  for (let i = 0; i < maxPoints; i++) out.push(pts[Math.round(i * step)]!);
  return out;
}

function f1Of(tp: number, fp: number, fn: number): number {
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/** Best F1 over every distinct threshold (no point-adjust). */
export function bestF1(scores: Scores, labels: Labels, sweep?: ThresholdSweep): BestF1 {
  const sw = sweep ?? thresholdSweep(scores, labels);
  let best: BestF1 = { f1: 0, precision: 0, recall: 0, threshold: Number.POSITIVE_INFINITY };
  for (let k = 0; k < sw.tp.length; k++) {
    const tp = sw.tp[k]!;
    const fp = sw.fp[k]!;
    const f1 = f1Of(tp, fp, sw.positives - tp);
    if (f1 > best.f1) {
      best = { f1, precision: tp / (tp + fp), recall: tp / sw.positives, threshold: sw.thresholds[k]! };
    }
  }
  return best;
}

export interface Segment {
  start: number;
  /** exclusive */
  end: number;
}

/**
 * Maximal runs of label 1. `groupStarts` lists indices where a new series begins (e.g. channels
 * concatenated), so that no segment crosses a series boundary.
 */
export function anomalySegments(labels: Labels, groupStarts: readonly number[] = []): Segment[] {
  const starts = new Set(groupStarts);
  const segs: Segment[] = [];
  let open = -1;
  for (let i = 0; i < labels.length; i++) {
    const pos = labels[i]! > 0;
    if (open >= 0 && (!pos || starts.has(i))) {
      segs.push({ start: open, end: i });
      open = -1;
    }
    if (pos && open < 0) open = i;
  }
  if (open >= 0) segs.push({ start: open, end: labels.length });
  return segs;
}

/**
 * Best F1 with point-adjust, exact over all thresholds in O(n log n): at threshold t the adjusted
 * TP is the total length of segments whose maximum score ≥ t, FP the normal windows scoring ≥ t.
 */
export function bestF1PointAdjusted(scores: Scores, labels: Labels, groupStarts: readonly number[] = []): BestF1 {
  checkInputs(scores, labels);
  const segs = anomalySegments(labels, groupStarts);
  const P = segs.reduce((a, s) => a + s.end - s.start, 0);
  const values: number[] = [];
  const tpGain: number[] = [];
  for (const s of segs) {
    let m = Number.NEGATIVE_INFINITY;
    for (let i = s.start; i < s.end; i++) m = Math.max(m, scores[i]!);
    values.push(m);
    tpGain.push(s.end - s.start);
  }
  for (let i = 0; i < labels.length; i++) {
    if (!(labels[i]! > 0)) {
      values.push(scores[i]!);
      tpGain.push(-1); // -1 marks a normal window (an FP when predicted)
    }
  }
  const ord = orderDescending(values);
  let best: BestF1 = { f1: 0, precision: 0, recall: 0, threshold: Number.POSITIVE_INFINITY };
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < ord.length; k++) {
    const i = ord[k]!;
    const g = tpGain[i]!;
    if (g < 0) fp++;
    else tp += g;
    const next = ord[k + 1];
    if (next === undefined || values[next] !== values[i]) {
      const f1 = f1Of(tp, fp, P - tp);
      if (f1 > best.f1) best = { f1, precision: tp / (tp + fp), recall: tp / P, threshold: values[i]! };
    }
  }
  return best;
}

export function predict(scores: Scores, threshold: number): Uint8Array {
  const out = new Uint8Array(scores.length);
  for (let i = 0; i < out.length; i++) out[i] = scores[i]! >= threshold ? 1 : 0;
  return out;
}

/** Point-adjusted predictions: every true segment with one predicted window becomes fully predicted. */
export function pointAdjust(pred: Labels, labels: Labels, groupStarts: readonly number[] = []): Uint8Array {
  const out = Uint8Array.from(pred, (v) => (v > 0 ? 1 : 0));
  for (const s of anomalySegments(labels, groupStarts)) {
    let hit = false;
    for (let i = s.start; i < s.end && !hit; i++) hit = out[i] === 1;
    if (hit) out.fill(1, s.start, s.end);
  }
  return out;
}

export function confusion(pred: Labels, labels: Labels): Prf {
  if (pred.length !== labels.length) throw new Error('pred/labels length mismatch');
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i]! > 0;
    const l = labels[i]! > 0;
    if (p && l) tp++;
    else if (p) fp++;
    else if (l) fn++;
    else tn++;
  }
  return {
    tp,
    fp,
    fn,
    tn,
    precision: tp + fp === 0 ? 0 : tp / (tp + fp),
    recall: tp + fn === 0 ? 0 : tp / (tp + fn),
    f1: f1Of(tp, fp, fn),
  };
}

export function prfAtThreshold(scores: Scores, labels: Labels, threshold: number): Prf {
  checkInputs(scores, labels);
  return confusion(predict(scores, threshold), labels);
}

export interface FaultTypeRecall {
  faultType: string;
  windows: number;
  detectedWindows: number;
  recall: number;
  episodes: number;
  detectedEpisodes: number;
}

/** Window- and episode-level recall for each fault type (windows whose fault type is null are normal). */
export function recallPerFaultType(
  pred: Labels,
  labels: Labels,
  faultTypes: readonly (string | null)[],
  groupStarts: readonly number[] = [],
): FaultTypeRecall[] {
  const by = new Map<string, FaultTypeRecall>();
  const get = (t: string): FaultTypeRecall => {
    let r = by.get(t);
    if (!r) {
      r = { faultType: t, windows: 0, detectedWindows: 0, recall: 0, episodes: 0, detectedEpisodes: 0 };
      by.set(t, r);
    }
    return r;
  };
  for (let i = 0; i < labels.length; i++) {
    if (!(labels[i]! > 0)) continue;
    const r = get(faultTypes[i] ?? 'unknown');
    r.windows++;
    if (pred[i]! > 0) r.detectedWindows++;
  }
  for (const ep of faultEpisodes(labels, faultTypes, groupStarts)) {
    const r = get(ep.faultType);
    r.episodes++;
    let hit = false;
    for (let i = ep.start; i < ep.end && !hit; i++) hit = pred[i]! > 0;
    if (hit) r.detectedEpisodes++;
  }
  for (const r of by.values()) r.recall = r.windows === 0 ? 0 : r.detectedWindows / r.windows;
  return [...by.values()].sort((a, b) => a.faultType.localeCompare(b.faultType));
}

export interface Episode extends Segment {
  faultType: string;
}

/** Anomaly segments, split further where the fault type changes. */
export function faultEpisodes(
  labels: Labels,
  faultTypes: readonly (string | null)[],
  groupStarts: readonly number[] = [],
): Episode[] {
  const out: Episode[] = [];
  for (const s of anomalySegments(labels, groupStarts)) {
    let start = s.start;
    for (let i = s.start + 1; i <= s.end; i++) {
      if (i === s.end || (faultTypes[i] ?? 'unknown') !== (faultTypes[start] ?? 'unknown')) {
        out.push({ start, end: i, faultType: faultTypes[start] ?? 'unknown' });
        start = i;
      }
    }
  }
  return out;
}

export interface EpisodeDelay {
  faultType: string;
  startMs: number;
  endMs: number;
  /** null when no window of the episode was predicted */
  detectedMs: number | null;
  delayMs: number | null;
}

/**
 * Detection delay per fault episode. `times` is the [n, 2] (start, end) window-time array. The episode
 * starts at the end of its first anomalous window (the first moment a window holds anomalous data); an
 * alarm is raised at the end of the first predicted window of the episode (when its data is complete).
 */
export function detectionDelays(
  pred: Labels,
  labels: Labels,
  times: ArrayLike<number>,
  faultTypes: readonly (string | null)[],
  groupStarts: readonly number[] = [],
): EpisodeDelay[] {
  const end = (i: number): number => times[2 * i + 1]!;
  return faultEpisodes(labels, faultTypes, groupStarts).map((ep) => {
    let first = -1;
    for (let i = ep.start; i < ep.end; i++) {
      if (pred[i]! > 0) {
        first = i;
        break;
      }
    }
    const startMs = end(ep.start);
    const detectedMs = first < 0 ? null : end(first);
    return {
      faultType: ep.faultType,
      startMs,
      endMs: end(ep.end - 1),
      detectedMs,
      delayMs: detectedMs === null ? null : detectedMs - startMs,
    };
  });
}

export interface FalseAlarmRate {
  /** runs of consecutive predicted windows that are all normal */
  alarms: number;
  normalHours: number;
  perHour: number;
}

/**
 * False alarms per hour of normal operation. An alarm is a maximal run of predicted-positive normal
 * windows (one incident, not one per overlapping window). Normal time is the sum of the advance of
 * window end times over normal windows; gaps longer than 10 median steps count as one step.
 */
export function falseAlarmsPerHour(pred: Labels, labels: Labels, times: ArrayLike<number>): FalseAlarmRate {
  const n = labels.length;
  const steps: number[] = [];
  for (let i = 1; i < n; i++) steps.push(times[2 * i + 1]! - times[2 * i - 1]!);
  const sorted = steps.filter((s) => s > 0).sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor(sorted.length / 2)]! : 0;
  let normalMs = 0;
  let alarms = 0;
  let inAlarm = false;
  for (let i = 0; i < n; i++) {
    const normal = !(labels[i]! > 0);
    if (normal) {
      const step = i === 0 ? median : times[2 * i + 1]! - times[2 * i - 1]!;
      normalMs += step > 0 && step <= 10 * median ? step : median;
    }
    const fa = normal && pred[i]! > 0;
    if (fa && !inAlarm) alarms++;
    inAlarm = fa;
  }
  const normalHours = normalMs / 3_600_000;
  return { alarms, normalHours, perHour: normalHours > 0 ? alarms / normalHours : Number.NaN };
}

/** One injected fault's labelled interval [fromMs, toMs): applied until recovered/removed + label margin. */
export interface FaultSpan {
  type: string;
  fromMs: number;
  toMs: number;
}

export interface FaultEventRecall {
  faultType: string;
  /** injected faults of this type whose start falls inside the split's time range */
  faults: number;
  detected: number;
  recall: number;
  /** mean over detected faults: first alarmed window end minus the fault's start */
  meanDelayMs: number | null;
}

/**
 * Recall per injected fault (the chaos engineer's question: "did an alarm go off for this kill?"),
 * not per window: a fault counts as detected when a window whose end (its decision time) lies in
 * the fault's labelled interval is predicted anomalous. Faults overlap in bursts, so one alarm can
 * detect several; windows are the split's, in time order (times = [start, end] pairs).
 */
export function faultEventRecall(
  pred: Labels,
  times: ArrayLike<number>,
  faults: readonly FaultSpan[],
): FaultEventRecall[] {
  const n = pred.length;
  if (n === 0) return [];
  const ends = Float64Array.from({ length: n }, (_, i) => times[2 * i + 1]!);
  const first = ends[0]!;
  const last = ends[n - 1]!;
  const by = new Map<string, { faults: number; detected: number; delays: number[] }>();
  for (const f of faults) {
    if (f.fromMs < first || f.fromMs > last) continue;
    const r = by.get(f.type) ?? { faults: 0, detected: 0, delays: [] };
    by.set(f.type, r);
    r.faults++;
    // first window ending at or after the fault's start
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid]! < f.fromMs) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < n && ends[i]! < f.toMs; i++) {
      if (pred[i]! > 0) {
        r.detected++;
        r.delays.push(ends[i]! - f.fromMs);
        break;
      }
    }
  }
  return [...by]
    .map(([faultType, r]) => ({
      faultType,
      faults: r.faults,
      detected: r.detected,
      recall: r.faults ? r.detected / r.faults : 0,
      meanDelayMs: r.delays.length ? r.delays.reduce((a, b) => a + b, 0) / r.delays.length : null,
    }))
    .sort((a, b) => a.faultType.localeCompare(b.faultType));
}
