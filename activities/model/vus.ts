/**
 * Volume Under the Surface (VUS) — Paparrizos, Boniol, Palpanas, Tsay, Elmore & Franklin, "Volume Under
 * the Surface: A New Accuracy Evaluation Measure for Time-Series Anomaly Detection", PVLDB 15(11), 2022.
 *
 * Range-based ROC / PR curves are computed with every labelled anomaly range widened by a buffer of
 * length ℓ (ℓ/2 points on each side, weighted sqrt(1 − d/ℓ) at distance d from the range), and the
 * areas are averaged over ℓ = 0 … L: VUS-PR is the mean range-PR-AUC, VUS-ROC the mean range-ROC-AUC.
 *
 * This follows the authors' implementation as used by TSB-AD (Liu & Paparrizos, NeurIPS 2024,
 * `Metricor.RangeAUC_volume_opt`), step by step:
 * - thresholds: 250 of the scores sorted descending, at indices ⌊linspace(0, n−1, 250)⌋;
 * - buffer ℓ: points e+1 … e+⌊ℓ/2⌋ after each range [s, e] and s−⌊ℓ/2⌋ … s−1 before it get label
 *   min(1, label + sqrt(1 − d/ℓ)) (d = distance to the range); the existence segments are the ranges
 *   widened by ⌊ℓ/2⌋ and merged where they overlap;
 * - at each threshold: TP = Σ label·pred (soft labels), P' = (P + Σ label)/2 with P the original
 *   anomalous count, recall = min(TP/P', 1), TPR = recall × (segments with a predicted point / segments),
 *   FPR = (#pred − TP)/(n − P'), precision = TP/#pred;
 * - ROC: trapezoids from (0,0) through the thresholds to (1,1); PR: trapezoids over TPR from
 *   (TPR 0, precision 1) through the thresholds.
 * The first VUS code (TheDatumOrg/VUS, 2022) started the right-hand buffer at e itself, which is already
 * labelled 1, so its right buffer was one point shorter than its left; TSB-AD's version (this one) is
 * the symmetric buffer the paper describes.
 *
 * Computed exactly as above but in O((L+1)·n log n): the predicted set at a threshold is a prefix of the
 * descending order, so TP is a prefix sum of the soft labels, and a segment is detected at a threshold
 * iff its maximum score reaches it.
 */

export interface VusResult {
  vusPr: number;
  vusRoc: number;
  /** the largest buffer length L (buffers 0 … L are averaged) */
  maxBuffer: number;
}

const THRESHOLDS = 250;

/** VUS-PR and VUS-ROC; NaN when the labels hold no anomaly (or no normal point, for VUS-ROC). */
export function vus(scores: ArrayLike<number>, labels: ArrayLike<number>, maxBuffer: number): VusResult {
  const n = scores.length;
  if (labels.length !== n) throw new Error(`${n} scores but ${labels.length} labels`);
  if (!Number.isInteger(maxBuffer) || maxBuffer < 0)
    throw new Error(`VUS buffer length ${maxBuffer} is not an integer ≥ 0`);
  const nan = { vusPr: Number.NaN, vusRoc: Number.NaN, maxBuffer };
  let P = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) throw new Error(`score ${i} is NaN`);
    if (labels[i]! > 0) P++;
  }
  if (n === 0 || P === 0) return nan;
  const ranges: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    if (labels[i]! > 0 && (i === 0 || !(labels[i - 1]! > 0))) ranges.push([i, i]);
    if (labels[i]! > 0) ranges[ranges.length - 1]![1] = i;
  }
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  const s = Float64Array.from(scores);
  order.sort((a, b) => s[b]! - s[a]!);
  // thresholds and the number of scores ≥ each (ties included, as `score >= threshold`)
  const step = (n - 1) / (THRESHOLDS - 1);
  const thr = new Float64Array(THRESHOLDS);
  const nPred = new Int32Array(THRESHOLDS);
  for (let k = 0; k < THRESHOLDS; k++) {
    const idx = k === THRESHOLDS - 1 ? n - 1 : Math.floor(k * step);
    const t = s[order[idx]!]!;
    thr[k] = t;
    let c = idx;
    while (c + 1 < n && s[order[c + 1]!]! >= t) c++;
    nPred[k] = c + 1;
  }
  let sumPr = 0;
  let sumRoc = 0;
  const soft = new Float64Array(n);
  const prefix = new Float64Array(n + 1);
  for (let w = 0; w <= maxBuffer; w++) {
    const h = Math.floor(w / 2);
    for (let i = 0; i < n; i++) soft[i] = labels[i]! > 0 ? 1 : 0;
    for (const [st, e] of ranges) {
      for (let x = e + 1; x < Math.min(e + h + 1, n); x++) soft[x] = Math.min(1, soft[x]! + Math.sqrt(1 - (x - e) / w));
      for (let x = Math.max(st - h, 0); x < st; x++) soft[x] = Math.min(1, soft[x]! + Math.sqrt(1 - (st - x) / w));
    }
    let nLabels = 0;
    for (let i = 0; i < n; i++) nLabels += soft[i]!;
    for (let k = 0; k < n; k++) prefix[k + 1] = prefix[k]! + soft[order[k]!]!;
    // existence segments: ranges widened by h, merged unless strictly apart (TSB-AD's new_sequence)
    const segs: [number, number][] = [];
    let a = Math.max(ranges[0]![0] - h, 0);
    for (let r = 0; r < ranges.length - 1; r++) {
      if (ranges[r]![1] + h < ranges[r + 1]![0] - h) {
        segs.push([a, ranges[r]![1] + h]);
        a = ranges[r + 1]![0] - h;
      }
    }
    segs.push([a, Math.min(ranges[ranges.length - 1]![1] + h, n - 1)]);
    const segMax = segs.map(([lo, hi]) => {
      let m = Number.NEGATIVE_INFINITY;
      for (let i = Math.max(0, lo); i <= Math.min(hi, n - 1); i++) if (soft[i]! > 0) m = Math.max(m, s[i]!);
      return m;
    });
    const pNew = (P + nLabels) / 2;
    let prevTpr = 0;
    let prevFpr = 0;
    let prevPrec = 1;
    let ap = 0;
    let auc = 0;
    for (let k = 0; k < THRESHOLDS; k++) {
      const tp = prefix[nPred[k]!]!;
      let exist = 0;
      for (const m of segMax) if (m >= thr[k]!) exist++;
      const tpr = Math.min(tp / pNew, 1) * (exist / segs.length);
      const fpr = (nPred[k]! - tp) / (n - pNew);
      const prec = tp / nPred[k]!;
      ap += (tpr - prevTpr) * ((prec + prevPrec) / 2);
      auc += (fpr - prevFpr) * ((tpr + prevTpr) / 2);
      prevTpr = tpr;
      prevFpr = fpr;
      prevPrec = prec;
    }
    auc += (1 - prevFpr) * ((1 + prevTpr) / 2);
    sumPr += ap;
    sumRoc += auc;
  }
  const hasNormal = P < n;
  return { vusPr: sumPr / (maxBuffer + 1), vusRoc: hasNormal ? sumRoc / (maxBuffer + 1) : Number.NaN, maxBuffer };
}
