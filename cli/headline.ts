import type { EvaluationHeadline } from '../activities/model/types';

/** A metric for the terminal: '—' where it is undefined (null/NaN: JSON carries NaN as null). */
export function metric(v: number | null | undefined, digits = 3): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '—';
}

/**
 * The evaluation headline as the CLI prints it: the honest metrics first (ROC-AUC, PR-AUC, VUS-PR, best
 * F1 without point-adjust, F1 at the validation threshold), alarms per quiet hour beside per-kind
 * recall, point-adjusted F1 only beside random scores' point-adjusted F1, and why a metric is undefined.
 */
export function headlineLines(h: EvaluationHeadline): string[] {
  const lines: string[] = [];
  lines.push(
    `  detector: ${h.detector ?? 'usad'}  ROC-AUC ${metric(h.rocAuc)}  PR-AUC ${metric(h.prAuc)}  VUS-PR ${metric(h.vusPr)}  ` +
      `best F1 ${metric(h.bestF1)}  F1@threshold ${metric(h.f1AtThreshold)}`,
  );
  if (h.choiceWhy) lines.push(`  chosen because: ${h.choiceWhy}`);
  if (h.alarms) {
    const a = h.alarms;
    const rec = Object.entries(a.recall)
      .map(([t, r]) => `${t} ${(r * 100).toFixed(0)} %`)
      .join('  ');
    lines.push(
      `  alarms: ${metric(a.falseAlarmsPerHour, 1)} false alarms per quiet hour (${(a.quietHours * 60).toFixed(1)} quiet min; ` +
        `${metric(a.quietRunsPerHour, 1)}/h counting alarms that clear after a fault's labelled end)` +
        `  recall ${rec || '— (no fault in the test split)'}  [rule: ${a.rule.k} of ${a.rule.n} windows ≥ ${metric(a.rule.threshold, 4)}, hold ${(a.rule.holdMs / 1000).toFixed(0)} s]`,
    );
  } else {
    const fr = Object.entries(h.faultRecall ?? {});
    if (fr.length) lines.push(`  faults detected: ${fr.map(([t, r]) => `${t} ${(r * 100).toFixed(0)} %`).join('  ')}`);
  }
  lines.push(
    `  point-adjusted best F1 ${metric(h.bestF1PointAdjusted)} (random scores: ${metric(h.randomBestF1PointAdjusted)}; point-adjust flatters any detector)`,
  );
  for (const w of h.undefinedWhy ?? []) lines.push(`  undefined: ${w}`);
  const missing = (['rocAuc', 'prAuc', 'bestF1', 'f1AtThreshold'] as const).filter(
    (k) => !Number.isFinite(h[k] ?? NaN),
  );
  if (missing.length && !(h.undefinedWhy ?? []).length)
    lines.push(
      `  undefined: ${missing.join(', ')} (the test split lacks normal or anomalous windows; see results.json)`,
    );
  return lines;
}
