/**
 * Alarm rules: from per-window scores to alarm episodes an operator would be paged for.
 *
 * A rule is a threshold, k-of-n debouncing (a window alarms when at least k of the last n windows,
 * itself included, score ≥ threshold) and a hold (an alarm stays raised until `holdMs` after the last
 * debounced window, so a flickering alarm is one episode). The rule is chosen on validation data:
 * fewest false alarms per hour of quiet time, subject to every fault kind on validation keeping
 * recall ≥ `minRecall`, with at most `maxQuietAlarmShare` of quiet time under an alarm.
 *
 * Counting, the same on validation and test:
 * - a false alarm is a maximal run of alarmed windows labelled normal (a held alarm that runs on past
 *   a fault's labelled interval into quiet time counts, so a long hold is not free);
 * - quiet time is the advance of window end times over normal windows (metrics.falseAlarmsPerHour);
 * - a fault counts as detected when a window whose end lies in its labelled interval is alarmed:
 *   per injected fault from the fault log where the dataset names one, else per labelled episode.
 */
import { faultEpisodes, faultEventRecall, falseAlarmsPerHour, type FalseAlarmRate, type FaultSpan } from './metrics';

export interface AlarmRule {
  threshold: number;
  k: number;
  n: number;
  holdMs: number;
}

export interface KindRecall {
  faultType: string;
  faults: number;
  detected: number;
  recall: number;
}

export interface AlarmOutcome {
  falseAlarms: FalseAlarmRate;
  /** per fault kind present in the split */
  recall: KindRecall[];
  /** the lowest per-kind recall (null when the split holds no fault) */
  minRecall: number | null;
  /** share of normal (quiet) windows under an alarm */
  quietAlarmShare: number;
  /** 'fault-log' (each injected fault) or 'episodes' (labelled runs of windows, no fault log) */
  recallBasis: 'fault-log' | 'episodes';
}

export interface AlarmSplit {
  labels: ArrayLike<number>;
  /** [n, 2] window start/end epoch ms, flattened */
  times: ArrayLike<number>;
  faultTypes: readonly (string | null)[];
}

/** Windows with at least k of the last n (itself included) scoring ≥ threshold. */
export function debounce(scores: ArrayLike<number>, threshold: number, k: number, n: number): Uint8Array {
  if (!(Number.isInteger(k) && Number.isInteger(n) && k >= 1 && n >= k))
    throw new Error(`alarm rule ${k} of ${n}: need integers 1 ≤ k ≤ n`);
  const out = new Uint8Array(scores.length);
  let count = 0;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i]! >= threshold) count++;
    if (i - n >= 0 && scores[i - n]! >= threshold) count--;
    out[i] = count >= k ? 1 : 0;
  }
  return out;
}

/** Alarm raised at each debounced window and held until `holdMs` after it (window end times). */
export function hold(debounced: ArrayLike<number>, times: ArrayLike<number>, holdMs: number): Uint8Array {
  const out = new Uint8Array(debounced.length);
  let last = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < debounced.length; i++) {
    const end = times[2 * i + 1]!;
    if (debounced[i]! > 0) last = end;
    out[i] = end - last <= holdMs ? 1 : 0;
  }
  return out;
}

export function applyAlarmRule(scores: ArrayLike<number>, times: ArrayLike<number>, rule: AlarmRule): Uint8Array {
  return hold(debounce(scores, rule.threshold, rule.k, rule.n), times, rule.holdMs);
}

/** False alarms per quiet hour and per-kind recall of an alarm series on a split. */
export function alarmOutcome(alarm: ArrayLike<number>, split: AlarmSplit, faults: readonly FaultSpan[]): AlarmOutcome {
  const falseAlarms = falseAlarmsPerHour(alarm, split.labels, split.times);
  let recall: KindRecall[];
  let recallBasis: AlarmOutcome['recallBasis'];
  const fromLog = faults.length ? faultEventRecall(alarm, split.times, faults) : [];
  if (fromLog.length) {
    recallBasis = 'fault-log';
    recall = fromLog.map((r) => ({ faultType: r.faultType, faults: r.faults, detected: r.detected, recall: r.recall }));
  } else {
    recallBasis = 'episodes';
    const by = new Map<string, KindRecall>();
    for (const ep of faultEpisodes(split.labels, split.faultTypes)) {
      const r = by.get(ep.faultType) ?? { faultType: ep.faultType, faults: 0, detected: 0, recall: 0 };
      by.set(ep.faultType, r);
      r.faults++;
      let hit = false;
      for (let i = ep.start; i < ep.end && !hit; i++) hit = alarm[i]! > 0;
      if (hit) r.detected++;
    }
    recall = [...by.values()]
      .map((r) => ({ ...r, recall: r.faults ? r.detected / r.faults : 0 }))
      .sort((a, b) => a.faultType.localeCompare(b.faultType));
  }
  const minRecall = recall.length ? Math.min(...recall.map((r) => r.recall)) : null;
  let quiet = 0;
  let quietAlarmed = 0;
  for (let i = 0; i < alarm.length; i++) {
    if (split.labels[i]! > 0) continue;
    quiet++;
    if (alarm[i]! > 0) quietAlarmed++;
  }
  return { falseAlarms, recall, minRecall, recallBasis, quietAlarmShare: quiet ? quietAlarmed / quiet : 0 };
}

export interface AlarmRuleChoice {
  rule: AlarmRule;
  /** the rule's outcome on the split it was chosen on */
  validation: AlarmOutcome;
  /** every fault kind on validation reached minRecall */
  constraintMet: boolean;
  minRecall: number;
  maxQuietAlarmShare: number;
  candidates: number;
  why: string;
}

export interface AlarmSearch {
  minRecall?: number;
  /**
   * At most this share of quiet windows under an alarm (default 0.1). Counting runs alone would favour an
   * alarm stuck on through quiet time (one long false alarm per quiet gap) over a working detector.
   */
  maxQuietAlarmShare?: number;
  /** (k, n) pairs tried; default every 1 ≤ k ≤ n ≤ 6 */
  debounce?: [number, number][];
  /** holds tried, in ms; default 0, 2, 5, 10, 20 median window steps */
  holdsMs?: number[];
  /** at most this many thresholds (midpoints between distinct validation scores, thinned) */
  maxThresholds?: number;
}

/** Median advance of window end times (the step of the series). */
export function medianStepMs(times: ArrayLike<number>): number {
  const steps: number[] = [];
  for (let i = 2; i + 1 < times.length; i += 2) {
    const d = times[i + 1]! - times[i - 1]!;
    if (d > 0) steps.push(d);
  }
  steps.sort((a, b) => a - b);
  return steps.length ? steps[Math.floor(steps.length / 2)]! : 0;
}

/**
 * Grid search of alarm rules on a labelled (validation) split. Order of preference: every fault kind at
 * recall ≥ minRecall; then fewest false alarms per quiet hour; then highest mean recall; then the
 * quicker rule (smaller n, then smaller k, then shorter hold). Among thresholds equally good on all of
 * these for that (k, n, hold), the middle one: validation cannot tell them apart, and the middle of the
 * range has the most room on both sides for test scores (as bestF1Threshold's mid-gap).
 * Where no rule meets the recall constraint, the one with the highest lowest recall (then fewest false
 * alarms) is returned with constraintMet = false.
 */
export function chooseAlarmRule(
  scores: ArrayLike<number>,
  split: AlarmSplit,
  faults: readonly FaultSpan[],
  opts: AlarmSearch = {},
): AlarmRuleChoice {
  const minRecall = opts.minRecall ?? 0.95;
  const maxShare = opts.maxQuietAlarmShare ?? 0.1;
  const step = medianStepMs(split.times);
  const holds = opts.holdsMs ?? [0, 2, 5, 10, 20].map((m) => m * step);
  const pairs: [number, number][] = opts.debounce ?? [];
  if (!opts.debounce) for (let n = 1; n <= 6; n++) for (let k = 1; k <= n; k++) pairs.push([k, n]);
  const distinct = [...new Set(Array.from(scores))].sort((a, b) => a - b);
  if (distinct.length === 0) throw new Error('alarm rule: the validation split is empty');
  let cands: number[] = [];
  for (let i = 0; i + 1 < distinct.length; i++) cands.push((distinct[i]! + distinct[i + 1]!) / 2);
  cands.push(distinct[0]!);
  cands.sort((a, b) => a - b);
  const maxT = opts.maxThresholds ?? 160;
  if (cands.length > maxT) {
    const thin: number[] = [];
    for (let i = 0; i < maxT; i++) thin.push(cands[Math.round((i * (cands.length - 1)) / (maxT - 1))]!);
    cands = [...new Set(thin)];
  }
  interface Cand {
    rule: AlarmRule;
    out: AlarmOutcome;
    met: boolean;
    fa: number;
    meanRecall: number;
  }
  const all: Cand[] = [];
  for (const [k, n] of pairs) {
    for (const h of holds) {
      for (const t of cands) {
        const rule = { threshold: t, k, n, holdMs: h };
        const out = alarmOutcome(applyAlarmRule(scores, split.times, rule), split, faults);
        const met =
          out.recall.length > 0 && out.recall.every((r) => r.recall >= minRecall) && out.quietAlarmShare <= maxShare;
        const fa = Number.isFinite(out.falseAlarms.perHour) ? out.falseAlarms.perHour : out.falseAlarms.alarms;
        const meanRecall = out.recall.length ? out.recall.reduce((a, r) => a + r.recall, 0) / out.recall.length : 0;
        all.push({ rule, out, met, fa, meanRecall });
      }
    }
  }
  const anyMet = all.some((c) => c.met);
  const key = (c: Cand): number[] =>
    anyMet
      ? [c.met ? 0 : 1, c.fa, -c.meanRecall, c.rule.n, c.rule.k, c.rule.holdMs]
      : [
          c.out.quietAlarmShare <= maxShare ? 0 : 1,
          -(c.out.minRecall ?? 0),
          c.fa,
          -c.meanRecall,
          c.rule.n,
          c.rule.k,
          c.rule.holdMs,
        ];
  const cmp = (a: number[], b: number[]): number => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return 0;
  };
  const sorted = [...all].sort((a, b) => cmp(key(a), key(b)));
  const best = sorted[0]!;
  const ties = sorted.filter((c) => cmp(key(c), key(best)) === 0).sort((a, b) => a.rule.threshold - b.rule.threshold);
  const pick = ties[Math.floor((ties.length - 1) / 2)]!;
  const kinds = pick.out.recall.map((r) => `${r.faultType} ${r.detected}/${r.faults}`).join(', ');
  const why = anyMet
    ? `fewest false alarms per quiet hour on validation (${fmt(pick.out.falseAlarms.perHour)}/h) among ${all.length} rules keeping every fault kind's recall ≥ ${minRecall} (${kinds}) with at most ${maxShare * 100} % of quiet time under alarm; threshold in the middle of ${ties.length} equally good`
    : `no rule of ${all.length} kept every fault kind's recall ≥ ${minRecall} with at most ${maxShare * 100} % of quiet time under alarm on validation: the highest lowest recall (${fmt(pick.out.minRecall ?? 0)}; ${kinds}), then fewest false alarms`;
  return {
    rule: pick.rule,
    validation: pick.out,
    constraintMet: pick.met,
    minRecall,
    maxQuietAlarmShare: maxShare,
    candidates: all.length,
    why,
  };
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toFixed(2) : String(v);
}
