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
 * - a false alarm is an alarm episode (maximal run of alarmed windows) that touches no window labelled
 *   anomalous: what an operator would call a page for nothing. An alarm raised by a fault that clears a
 *   few windows after the fault's labelled interval is not one; it is counted apart (quietRuns: runs of
 *   alarmed normal windows, the older count) and in quietAlarmShare, so late clearing stays visible;
 * - an alarm stuck on through quiet time would be one long "true" episode: the rule search refuses
 *   rules with more than maxQuietAlarmShare of quiet time under an alarm;
 * - quiet time is the advance of window end times over normal windows (metrics.falseAlarmsPerHour);
 * - a fault counts as detected when a window whose end lies in its labelled interval is alarmed:
 *   per injected fault from the fault log where the dataset names one, else per labelled episode.
 */
import { faultEpisodes, falseAlarmsPerHour, type FalseAlarmRate, type FaultSpan } from './metrics';

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
  /** alarm episodes (maximal runs of alarmed windows) that touch no anomalous window, per quiet hour */
  falseAlarms: FalseAlarmRate;
  /**
   * runs of alarmed normal windows, per quiet hour (metrics.falseAlarmsPerHour): also counts an alarm
   * raised by a fault that clears after the fault's labelled interval ended (late clearing)
   */
  quietRuns: FalseAlarmRate;
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
  return outcomeEvaluator(split, faults)(alarm);
}

/**
 * The split-dependent parts of alarmOutcome computed once (quiet time, each fault's window range), so
 * that scoring one alarm series is a few linear passes: the rule search calls it thousands of times.
 * Same counting as metrics.falseAlarmsPerHour (runs of alarmed normal windows) and
 * metrics.faultEventRecall (faults starting inside the split; detected by an alarmed window whose end
 * lies in [from, to)).
 */
export function outcomeEvaluator(
  split: AlarmSplit,
  faults: readonly FaultSpan[],
): (alarm: ArrayLike<number>) => AlarmOutcome {
  const n = split.labels.length;
  const normalHours = falseAlarmsPerHour(new Uint8Array(n), split.labels, split.times).normalHours;
  const ends = Float64Array.from({ length: n }, (_, i) => split.times[2 * i + 1]!);
  const firstIndexAtOrAfter = (t: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  // one [lo, hi) window range per fault, by kind
  const ranges: { kind: string; lo: number; hi: number }[] = [];
  if (n > 0) {
    for (const f of faults) {
      if (f.fromMs < ends[0]! || f.fromMs > ends[n - 1]!) continue;
      ranges.push({ kind: f.type, lo: firstIndexAtOrAfter(f.fromMs), hi: firstIndexAtOrAfter(f.toMs) });
    }
  }
  const recallBasis: AlarmOutcome['recallBasis'] = ranges.length ? 'fault-log' : 'episodes';
  if (!ranges.length) {
    for (const ep of faultEpisodes(split.labels, split.faultTypes))
      ranges.push({ kind: ep.faultType, lo: ep.start, hi: ep.end });
  }
  const kinds = [...new Set(ranges.map((r) => r.kind))].sort((a, b) => a.localeCompare(b));
  const normal = Uint8Array.from({ length: n }, (_, i) => (split.labels[i]! > 0 ? 0 : 1));
  const quiet = normal.reduce((a, b) => a + b, 0);
  return (alarm) => {
    let runs = 0;
    let inRun = false;
    let quietAlarmed = 0;
    let falseEpisodes = 0;
    let inEpisode = false;
    let touchesFault = false;
    for (let i = 0; i <= n; i++) {
      const on = i < n && alarm[i]! > 0;
      if (on && !inEpisode) touchesFault = false;
      if (on && normal[i] === 0) touchesFault = true;
      if (!on && inEpisode && !touchesFault) falseEpisodes++;
      inEpisode = on;
      if (i === n) break;
      const fa = normal[i] === 1 && on;
      if (fa) quietAlarmed++;
      if (fa && !inRun) runs++;
      inRun = fa;
    }
    const rate = (count: number): FalseAlarmRate => ({
      alarms: count,
      normalHours,
      perHour: normalHours > 0 ? count / normalHours : Number.NaN,
    });
    const by = new Map<string, KindRecall>(kinds.map((k) => [k, { faultType: k, faults: 0, detected: 0, recall: 0 }]));
    for (const r of ranges) {
      const k = by.get(r.kind)!;
      k.faults++;
      for (let i = r.lo; i < r.hi; i++) {
        if (alarm[i]! > 0) {
          k.detected++;
          break;
        }
      }
    }
    const recall = [...by.values()].map((r) => ({ ...r, recall: r.faults ? r.detected / r.faults : 0 }));
    return {
      falseAlarms: rate(falseEpisodes),
      quietRuns: rate(runs),
      recall,
      minRecall: recall.length ? Math.min(...recall.map((r) => r.recall)) : null,
      recallBasis,
      quietAlarmShare: quiet ? quietAlarmed / quiet : 0,
    };
  };
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
 * recall ≥ minRecall; then fewest false alarms per quiet hour; then least quiet time under alarm (late
 * clearing); then highest mean recall; then the
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
  const outcome = outcomeEvaluator(split, faults);
  for (const [k, n] of pairs) {
    for (const h of holds) {
      for (const t of cands) {
        const rule = { threshold: t, k, n, holdMs: h };
        const out = outcome(applyAlarmRule(scores, split.times, rule));
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
      ? [c.met ? 0 : 1, c.fa, c.out.quietAlarmShare, -c.meanRecall, c.rule.n, c.rule.k, c.rule.holdMs]
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
