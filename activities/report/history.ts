/** Campaign-over-campaign comparison: flags regressions against earlier runs of the same config. */

export interface CampaignSummary {
  campaignId: string;
  campaignName: string;
  configHash: string;
  status: 'completed' | 'stopped' | 'failed';
  createdMs: number;
  faultsInjected: number;
  detection?: {
    rocAuc: number | null;
    prAuc: number | null;
    bestF1: number | null;
    bestF1PointAdjusted: number | null;
    f1AtThreshold: number | null;
    threshold: number | null;
    thresholdMethod?: string;
    meanDelayMs?: number | null;
    falseAlarmsPerHour?: number | null;
    /** share of injected faults detected at the threshold, by fault type */
    faultRecall?: Record<string, number>;
    /** the default detector these metrics are of (absent before the suite: USAD) */
    detector?: string;
    vusPr?: number | null;
    /** the alarm rule chosen on validation, on test: false alarms per quiet hour and the lowest per-kind recall */
    alarmsPerHour?: number | null;
    alarmMinRecall?: number | null;
  };
  /** browser-probe availability over every phase (passed / runs) */
  availability?: number | null;
  traffic?: { requests: number; errors: number; errorRate: number; throughputPerSec: number; p95Ms: number };
  recovery?: { faults: number; meanMs: number | null; p95Ms: number | null };
}

export interface HistoryCheck {
  metric: string;
  label: string;
  current: number | null;
  /** median over the previous campaigns that have this metric */
  baseline: number | null;
  delta: number | null;
  better: 'higher' | 'lower';
  tolerance: string;
  regression: boolean;
}

export interface HistoryComparison {
  configHash: string;
  previous: { campaignId: string; createdMs: number; status: string }[];
  checks: HistoryCheck[];
  regressions: HistoryCheck[];
}

function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Rule {
  metric: string;
  label: string;
  get: (s: CampaignSummary) => number | null | undefined;
  better: 'higher' | 'lower';
  /** absolute tolerance, or a relative one (fraction of the baseline), whichever is larger */
  abs: number;
  rel: number;
}

const RULES: Rule[] = [
  { metric: 'rocAuc', label: 'ROC-AUC', get: (s) => s.detection?.rocAuc, better: 'higher', abs: 0.05, rel: 0 },
  { metric: 'prAuc', label: 'PR-AUC', get: (s) => s.detection?.prAuc, better: 'higher', abs: 0.05, rel: 0 },
  { metric: 'vusPr', label: 'VUS-PR', get: (s) => s.detection?.vusPr, better: 'higher', abs: 0.05, rel: 0 },
  { metric: 'bestF1', label: 'best F1', get: (s) => s.detection?.bestF1, better: 'higher', abs: 0.05, rel: 0 },
  {
    metric: 'f1AtThreshold',
    label: 'F1 at threshold',
    get: (s) => s.detection?.f1AtThreshold,
    better: 'higher',
    abs: 0.05,
    rel: 0,
  },
  {
    metric: 'meanDelayMs',
    label: 'detection delay',
    get: (s) => s.detection?.meanDelayMs,
    better: 'lower',
    abs: 5000,
    rel: 0.25,
  },
  {
    metric: 'falseAlarmsPerHour',
    label: 'false alarms / h',
    get: (s) => s.detection?.falseAlarmsPerHour,
    better: 'lower',
    abs: 1,
    rel: 0.25,
  },
  {
    metric: 'alarmsPerHour',
    label: 'false alarms / quiet h (alarm rule)',
    get: (s) => s.detection?.alarmsPerHour,
    better: 'lower',
    abs: 1,
    rel: 0.25,
  },
  {
    metric: 'alarmMinRecall',
    label: 'lowest fault-kind recall (alarm rule)',
    get: (s) => s.detection?.alarmMinRecall,
    better: 'higher',
    abs: 0.05,
    rel: 0,
  },
  { metric: 'availability', label: 'availability', get: (s) => s.availability, better: 'higher', abs: 0.02, rel: 0 },
  {
    metric: 'errorRate',
    label: 'request error rate',
    get: (s) => s.traffic?.errorRate,
    better: 'lower',
    abs: 0.01,
    rel: 0.25,
  },
  { metric: 'p95Ms', label: 'latency p95', get: (s) => s.traffic?.p95Ms, better: 'lower', abs: 20, rel: 0.25 },
  {
    metric: 'recoveryMeanMs',
    label: 'mean recovery time',
    get: (s) => s.recovery?.meanMs,
    better: 'lower',
    abs: 1000,
    rel: 0.2,
  },
];

/**
 * Compares `current` with earlier campaigns of the same config (same configHash; others are ignored):
 * each metric against the median of the earlier values, a regression when it is worse by more than
 * max(absolute tolerance, relative tolerance × baseline).
 */
export function compareWithHistory(current: CampaignSummary, previous: CampaignSummary[]): HistoryComparison {
  const same = previous.filter((p) => p.configHash === current.configHash && p.campaignId !== current.campaignId);
  const checks: HistoryCheck[] = [];
  for (const r of RULES) {
    const cur = r.get(current);
    const past = same.map(r.get).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    const base = median(past);
    const c = typeof cur === 'number' && Number.isFinite(cur) ? cur : null;
    if (c === null && base === null) continue;
    const delta = c !== null && base !== null ? c - base : null;
    const tol = base === null ? r.abs : Math.max(r.abs, r.rel * Math.abs(base));
    const worse = delta === null ? false : r.better === 'higher' ? -delta > tol : delta > tol;
    checks.push({
      metric: r.metric,
      label: r.label,
      current: c,
      baseline: base,
      delta,
      better: r.better,
      tolerance: r.rel ? `max(${r.abs}, ${r.rel * 100}% of baseline)` : String(r.abs),
      regression: worse,
    });
  }
  return {
    configHash: current.configHash,
    previous: same.map((p) => ({ campaignId: p.campaignId, createdMs: p.createdMs, status: p.status })),
    checks,
    regressions: checks.filter((c) => c.regression),
  };
}
