import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { ReportInput, ReportResult } from './types';
import type { FaultRecord } from '../../schemas/fault-log';
import type { DetectorMetrics, DetectorResult, EvaluationResults } from '../model/evaluate';
import type { DatasetCard } from '../dataset/card';
import { readFaultLog } from '../chaos/fault-log';
import { FAULT_KINDS } from '../chaos/kinds/registry';
import { readRuns, type ProbeRun } from '../browser/runs';
import { readArrowTable } from '../metrics/arrow-table';
import { compareWithHistory, type CampaignSummary, type HistoryComparison } from './history';
import {
  barsSvg,
  confusionMatrixSvg,
  groupedBarsSvg,
  esc,
  faultColor,
  fmtNum,
  fmtTime,
  lineChart,
  PALETTE,
  type Band,
  type XY,
} from './svg';
import { CSS } from './style';
import { localisationSectionBody, LOCALISATION_SECTION_ID, LOCALISATION_SECTION_TITLE } from './localisation-section';
import type { LocalisationResults } from '../localise/localise';

export interface HistoryEpoch {
  epoch: number;
  loss1?: number;
  loss2?: number;
  val_loss1?: number;
  val_loss2?: number;
  seconds?: number;
  /** the trainer's early-stopping bookkeeping (workers/training/usad) */
  best_epoch?: number;
  stopped_early?: boolean;
}

interface MetricSeries {
  name: string;
  points: XY[];
}

type SectionState = 'ok' | 'not run' | 'error';

/** The report's machine-readable twin (<dataDir>/report/results.json). */
export interface ReportResults {
  schema: 'faultline-report/1';
  summary: CampaignSummary;
  sections: Record<string, SectionState>;
  phases: ReportInput['phases'];
  traffic: ReportInput['traffic'];
  browser: ReportInput['browser'];
  faults: { total: number; byType: Record<string, number>; byStatus: Record<string, number> };
  dataset: {
    dir: string;
    windows: { train: number; val: number; test: number };
    features: string[];
    windowSize: number;
  } | null;
  training: { device: string; epochs: number; seconds: number; history: HistoryEpoch[] } | null;
  evaluation: EvaluationResults | null;
  /** root-cause localisation (localisation.json beside the evaluation's results.json); null when not run */
  localisation: LocalisationResults | null;
  history: HistoryComparison | null;
  errors: Record<string, string>;
}

const pct = (v: number | null | undefined, digits = 1): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(100 * v).toFixed(digits)}%`;
const num = (v: number | null | undefined, digits = 3): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
const ms = (v: number | null | undefined): string => {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (Math.abs(v) < 1000) return `${Math.round(v)} ms`;
  if (Math.abs(v) < 120_000) return `${(v / 1000).toFixed(1)} s`;
  return `${(v / 60_000).toFixed(1)} min`;
};
/** Failed journeys listed in the report; the rest are in runs.jsonl. */
const MAX_FAILED_JOURNEYS = 20;
const iso = (t: number | undefined | null): string =>
  t === undefined || t === null ? '—' : new Date(t).toISOString().replace('T', ' ').slice(0, 19);
const finite = (v: number | null | undefined): number | null =>
  typeof v === 'number' && Number.isFinite(v) ? v : null;

/** The default detector's entry (results.json before the suite had only USAD: its metrics stand in). */
function chosenDetector(ev: EvaluationResults): {
  name: string;
  metrics: DetectorMetrics;
  entry: DetectorResult | null;
} {
  const entry = ev.detectors?.find((d) => d.name === ev.chosen?.detector) ?? null;
  return entry?.test
    ? { name: entry.name, metrics: entry.test, entry }
    : { name: 'usad', metrics: ev.usad, entry: null };
}

async function readJson<T>(path: string | undefined): Promise<T | null> {
  if (!path || !existsSync(path)) return null;
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

async function readHistory(path: string | undefined): Promise<HistoryEpoch[]> {
  if (!path || !existsSync(path)) return [];
  const out: HistoryEpoch[] = [];
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    try {
      const o = JSON.parse(line) as HistoryEpoch & { event?: string };
      if (typeof o.epoch === 'number' && (o.event === undefined || o.event === 'epoch')) out.push(o);
    } catch {
      // a torn last line of a killed trainer
    }
  }
  return out;
}

/** Up to `maxFeatures` metric series from the dataset's points table, or else the collected phase tables. */
async function readMetricSeries(
  input: ReportInput,
  maxFeatures = 8,
  maxPoints = 700,
): Promise<{ series: MetricSeries[]; source: string }> {
  const tables: string[] = [];
  const points = input.dataset ? join(input.dataset.dir, 'points.arrow') : undefined;
  if (points && existsSync(points)) tables.push(points);
  else if (input.collected) tables.push(...Object.values(input.collected.tables).filter((p) => existsSync(p)));
  if (!tables.length) return { series: [], source: '' };
  const acc = new Map<string, { t: number[]; v: number[] }>();
  // The detector's inputs first (dataset.modelFeatures may have narrowed them), then the other series.
  const inputs = new Set(input.dataset?.features ?? []);
  let wanted: Set<string> | undefined;
  for (const path of tables) {
    const t = await readArrowTable(path);
    const ts = t.columns.get('timestamp');
    if (!ts) continue;
    const names = t.names.filter((n) => n !== 'timestamp' && n !== 'is_anomaly');
    wanted ??= new Set(
      [...names.filter((n) => inputs.has(n)), ...names.filter((n) => !inputs.has(n))].slice(0, maxFeatures),
    );
    for (const name of names) {
      if (!wanted.has(name)) continue;
      const col = t.columns.get(name)!;
      const a = acc.get(name) ?? { t: [], v: [] };
      for (let i = 0; i < ts.length; i++) {
        a.t.push(ts[i]!);
        a.v.push(col[i]!);
      }
      acc.set(name, a);
    }
  }
  const series: MetricSeries[] = [];
  for (const [name, { t, v }] of acc) {
    // min/max per bucket keeps spikes (a pod kill is often one or two samples)
    const step = Math.max(1, Math.ceil(t.length / (maxPoints / 2)));
    const pts: XY[] = [];
    for (let i = 0; i < t.length; i += step) {
      let lo = i;
      let hi = i;
      for (let j = i; j < Math.min(t.length, i + step); j++) {
        if (v[j]! < v[lo]!) lo = j;
        if (v[j]! > v[hi]!) hi = j;
      }
      for (const k of lo <= hi ? [lo, hi] : [hi, lo]) if (Number.isFinite(v[k])) pts.push({ x: t[k]!, y: v[k]! });
    }
    series.push({ name, points: pts });
  }
  return {
    series,
    source:
      tables.length === 1 && points && tables[0] === points
        ? 'dataset points table (cleaned)'
        : 'collected Prometheus tables',
  };
}

function faultBands(faults: FaultRecord[]): Band[] {
  return faults
    .filter((f) => f.appliedMs !== undefined)
    .map((f) => {
      const end = f.recoveredMs ?? f.removedMs ?? f.appliedMs!;
      return {
        x0: f.appliedMs!,
        x1: Math.max(end, f.appliedMs!),
        color: faultColor(f.type),
        label: `${f.type} → ${f.target.app} (${iso(f.appliedMs)}–${iso(end)})`,
      };
    });
}

function labelBands(t: number[], label: number[]): Band[] {
  const out: Band[] = [];
  let start = -1;
  for (let i = 0; i <= label.length; i++) {
    const on = i < label.length && label[i]! > 0;
    if (on && start < 0) start = i;
    if (!on && start >= 0) {
      out.push({ x0: t[start]!, x1: t[i - 1]!, label: 'labelled anomalous' });
      start = -1;
    }
  }
  return out;
}

function recoveryStats(faults: FaultRecord[]): {
  faults: number;
  meanMs: number | null;
  p95Ms: number | null;
  values: number[];
} {
  const values = faults
    .filter((f) => f.recoveredMs !== undefined && f.appliedMs !== undefined)
    .map((f) => f.recoveredMs! - Math.max(f.appliedMs!, f.removedMs ?? f.appliedMs!))
    .filter((v) => v >= 0)
    .sort((a, b) => a - b);
  const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
  const p95 = values.length ? values[Math.min(values.length - 1, Math.floor(0.95 * values.length))]! : null;
  return { faults: values.length, meanMs: mean, p95Ms: p95, values };
}

/**
 * Fault kinds Chaos Mesh applies through its chaos daemon on the node (tc, stress-ng, the HTTP proxy), not the
 * API: every kind whose object is not a PodChaos.
 */
const CHAOS_DAEMON_FAULTS = new Set<string>(
  FAULT_KINDS.filter((k) => k.chaosMesh.kind !== 'PodChaos').map((k) => k.type),
);

/** On Kubernetes: which logged faults need Chaos Mesh's node daemon, whose effect a simulated node cannot show. */
function daemonFaultNote(input: ReportInput, faults: FaultRecord[]): string {
  if (input.endpoints?.kind !== 'kubernetes') return '';
  const kinds = [...new Set(faults.filter((f) => CHAOS_DAEMON_FAULTS.has(f.type)).map((f) => f.type))].sort();
  if (!kinds.length) return '';
  return (
    `<p class="note">${esc(kinds.join(', '))}: Chaos Mesh applies these through its chaos daemon in the node's container runtime. ` +
    'Their objects were created, recorded and removed as logged; where the nodes run no containers (a kwok-simulated node, as in ' +
    '<code>faultline cluster up</code>) their effect cannot be observed without a container runtime, and the windows labelled with them carry no signal.</p>'
  );
}

function notRun(what: string, why = 'not run'): string {
  return `<div class="notrun"><strong>${esc(what)}:</strong> ${esc(why)}.</div>`;
}

function section(id: string, title: string, body: string, subtitle = ''): string {
  return `<section id="${id}" class="sec"><h2>${esc(title)}</h2>${subtitle ? `<p class="sub">${subtitle}</p>` : ''}${body}</section>`;
}

function card(label: string, value: string, note = '', tone: 'good' | 'bad' | 'warn' | '' = ''): string {
  return `<div class="card ${tone}"><div class="cl">${esc(label)}</div><div class="cv">${value}</div>${note ? `<div class="cn">${note}</div>` : ''}</div>`;
}

function table(head: string[], rows: string[][], cls = ''): string {
  return `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export function summarise(
  input: ReportInput,
  evaluation: EvaluationResults | null,
  faults: FaultRecord[],
  createdMs: number,
): CampaignSummary {
  const rec = recoveryStats(faults);
  const runs = input.browser.reduce((a, b) => a + b.runs, 0);
  const passed = input.browser.reduce((a, b) => a + b.passed, 0);
  const requests = input.traffic.reduce((a, b) => a + b.requests, 0);
  const errors = input.traffic.reduce((a, b) => a + b.errors, 0);
  const dur = input.traffic.reduce((a, b) => a + Math.max(0, b.endMs - b.startMs), 0);
  const ev = input.evaluation;
  const chosen = evaluation ? chosenDetector(evaluation) : null;
  return {
    campaignId: input.campaignId,
    campaignName: input.campaignName,
    configHash: input.configHash,
    status: input.status,
    createdMs,
    faultsInjected: input.faultsInjected,
    detection: ev
      ? {
          rocAuc: finite(ev.rocAuc),
          prAuc: finite(ev.prAuc),
          bestF1: finite(ev.bestF1),
          bestF1PointAdjusted: finite(ev.bestF1PointAdjusted),
          f1AtThreshold: finite(ev.f1AtThreshold),
          threshold: finite(ev.threshold),
          thresholdMethod: chosen?.metrics.thresholdMethod ?? evaluation?.chosenThreshold.method,
          meanDelayMs: finite(chosen?.metrics.meanDelayMs),
          falseAlarmsPerHour: finite(chosen?.metrics.falseAlarms.perHour),
          faultRecall: ev.faultRecall,
          detector: chosen?.name,
          vusPr: finite(ev.vusPr),
          alarmsPerHour: finite(chosen?.entry?.alarm?.test.falseAlarms.perHour),
          alarmMinRecall: finite(chosen?.entry?.alarm?.test.minRecall),
        }
      : undefined,
    availability: runs ? passed / runs : undefined,
    traffic: input.traffic.length
      ? {
          requests,
          errors,
          errorRate: requests ? errors / requests : 0,
          throughputPerSec: dur ? (1000 * requests) / dur : 0,
          p95Ms: Math.max(...input.traffic.map((t) => t.latencyMs.p95)),
        }
      : undefined,
    recovery: rec.faults ? { faults: rec.faults, meanMs: rec.meanMs, p95Ms: rec.p95Ms } : undefined,
  };
}

/** Builds the self-contained HTML report and results.json for one campaign. */
export async function writeReport(input: ReportInput): Promise<ReportResult> {
  const createdMs = Date.now();
  const outDir = join(input.dataDir, 'report');
  await mkdir(outDir, { recursive: true });
  const sections: Record<string, SectionState> = {};
  const errors: Record<string, string> = {};
  // Each part is read on its own: one missing or broken file must not cost the whole report.
  const attempt = async <T>(name: string, fn: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      errors[name] = err instanceof Error ? err.message : String(err);
      return fallback;
    }
  };
  const evaluation = await attempt(
    'evaluation',
    () => readJson<EvaluationResults>(input.evaluation?.resultsPath),
    null,
  );
  const faults = await attempt(
    'faults',
    () => Promise.resolve(input.faultLogPath && existsSync(input.faultLogPath) ? readFaultLog(input.faultLogPath) : []),
    [] as FaultRecord[],
  );
  // The localisation step writes localisation.json beside the evaluation's results.json.
  const localisation = await attempt(
    'localisation',
    () =>
      readJson<LocalisationResults>(
        input.evaluation?.resultsPath ? join(input.evaluation.resultsPath, '..', 'localisation.json') : undefined,
      ),
    null,
  );
  const history = await attempt('training', () => readHistory(input.trained?.historyPath), [] as HistoryEpoch[]);
  const cardJson = await attempt('dataset', () => readJson<Partial<DatasetCard>>(input.dataset?.cardPath), null);
  const metrics = await attempt('metrics', () => readMetricSeries(input), { series: [], source: '' });
  const journeys = await attempt(
    'browser',
    () => Promise.resolve(input.browser.map((b) => ({ phase: b.phase, runs: readRuns(b.runsPath) }))),
    [] as { phase: string; runs: ProbeRun[] }[],
  );
  const summary = summarise(input, evaluation, faults, createdMs);
  const previous = await attempt(
    'history',
    async () => {
      const out: CampaignSummary[] = [];
      for (const p of input.previousResultsPaths ?? []) {
        const r = await readJson<{ summary?: CampaignSummary }>(p).catch(() => null);
        if (r?.summary) out.push(r.summary);
      }
      return out;
    },
    [] as CampaignSummary[],
  );
  const comparison = input.previousResultsPaths ? compareWithHistory(summary, previous) : null;
  const bands = faultBands(faults);
  const body: string[] = [];

  // ---- summary cards
  const d = summary.detection;
  const cards: string[] = [];
  // an imported dataset had no chaos phase: "Faults injected 0" would read as a campaign that injected nothing
  const imported = cardJson?.import;
  cards.push(
    imported
      ? card(
          'Data',
          'imported',
          `${imported.files.length} file${imported.files.length === 1 ? '' : 's'} (${esc(imported.format)}); labels from the files, no faults injected`,
        )
      : card(
          'Faults injected',
          String(input.faultsInjected),
          `${faults.filter((f) => f.status === 'rejected').length} rejected by the guard`,
        ),
  );
  if (d) {
    const ch = evaluation ? chosenDetector(evaluation) : null;
    const alarm = ch?.entry?.alarm ?? null;
    cards.push(
      card(
        'Detector',
        esc(d.detector ?? 'usad'),
        evaluation?.chosen ? `chosen on validation (${esc(evaluation.chosen.rule)}), see Detectors` : 'USAD',
      ),
    );
    cards.push(
      card(
        'ROC-AUC',
        num(d.rocAuc),
        'test split',
        d.rocAuc !== null && d.rocAuc >= 0.75 ? 'good' : d.rocAuc !== null && d.rocAuc < 0.6 ? 'bad' : 'warn',
      ),
    );
    cards.push(card('PR-AUC', num(d.prAuc), 'average precision'));
    cards.push(card('VUS-PR', num(d.vusPr), `range PR over buffers 0–${ch?.metrics.vusMaxBuffer ?? '?'} windows`));
    cards.push(card('Best F1', num(d.bestF1), 'no point-adjust; oracle threshold on test'));
    cards.push(
      card(
        'F1 at threshold',
        num(d.f1AtThreshold),
        `threshold ${fmtNum(d.threshold ?? NaN)} (${esc(d.thresholdMethod ?? '?')}, from validation)`,
      ),
    );
    if (alarm) {
      const minRec = alarm.test.minRecall;
      const fa = alarm.test.falseAlarms.perHour;
      cards.push(
        card(
          'False alarms / quiet h',
          num(fa, 1),
          `alarm episodes touching no fault; rule ${alarm.rule.k} of ${alarm.rule.n}, hold ${ms(alarm.rule.holdMs)}; ${(alarm.test.falseAlarms.normalHours * 60).toFixed(1)} quiet min; ${num(alarm.test.quietRuns?.perHour, 1)}/h with late clearing`,
          fa !== null && Number.isFinite(fa) ? (fa <= 10 ? 'good' : fa > 30 ? 'bad' : 'warn') : '',
        ),
      );
      cards.push(
        card(
          'Lowest fault-kind recall',
          pct(minRec, 0),
          alarm.test.recall.map((r) => `${esc(r.faultType)} ${r.detected}/${r.faults}`).join(', ') ||
            'no fault in test',
          minRec !== null && Number.isFinite(minRec) ? (minRec >= 0.95 ? 'good' : minRec < 0.8 ? 'bad' : 'warn') : '',
        ),
      );
    }
    cards.push(card('Detection delay', ms(d.meanDelayMs), 'mean over detected episodes, at the threshold'));
    const randomPa = evaluation?.detectors?.find((x) => x.name === 'random')?.test?.bestF1PointAdjusted.f1;
    cards.push(
      card(
        'Best F1 with PA / random',
        `${num(d.bestF1PointAdjusted)} <span class="muted">/ ${num(randomPa)}</span>`,
        'point-adjust credits a whole fault for one hit: random scores reach the right-hand value',
      ),
    );
  } else cards.push(card('Detection', '<span class="muted">not run</span>', 'no evaluation'));
  cards.push(
    card(
      'Availability',
      summary.availability === undefined ? '<span class="muted">not run</span>' : pct(summary.availability, 2),
      summary.availability === undefined ? 'no browser probe' : 'browser journeys passed',
      summary.availability === undefined || summary.availability === null
        ? ''
        : summary.availability >= 0.99
          ? 'good'
          : summary.availability < 0.9
            ? 'bad'
            : 'warn',
    ),
  );
  if (summary.traffic) {
    cards.push(card('Latency p95', ms(summary.traffic.p95Ms), `${summary.traffic.throughputPerSec.toFixed(1)} req/s`));
    cards.push(
      card(
        'Request errors',
        pct(summary.traffic.errorRate, 2),
        `${summary.traffic.errors.toLocaleString('en-US')} of ${summary.traffic.requests.toLocaleString('en-US')}`,
      ),
    );
  }
  if (summary.recovery)
    cards.push(card('Recovery time', ms(summary.recovery.meanMs), `mean; p95 ${ms(summary.recovery.p95Ms)}`));
  if (comparison) {
    const n = comparison.regressions.length;
    cards.push(
      card(
        'vs. history',
        n ? `${n} regression${n > 1 ? 's' : ''}` : 'no regression',
        `${comparison.previous.length} earlier campaign(s)`,
        n ? 'bad' : 'good',
      ),
    );
  }
  body.push(
    `<section id="summary" class="sec">${(evaluation?.coverage ?? [])
      .filter((c) => c.undefinedWhy)
      .map((c) => `<div class="notrun warnbox">Undefined metrics: ${esc(c.undefinedWhy!)}.</div>`)
      .join('')}<div class="cards">${cards.join('')}</div>${phaseTimeline(input, faults)}</section>`,
  );
  sections.summary = 'ok';

  // ---- metric time series
  if (metrics.series.length) {
    const charts = metrics.series.map(
      (s, i) =>
        `<div class="mini">${lineChart([{ name: s.name, points: s.points, color: PALETTE[i % PALETTE.length], width: 1.2 }], { title: s.name, xTime: true, bands, height: 170, width: 520, legend: false })}</div>`,
    );
    body.push(
      section(
        'metrics',
        'Metric time series',
        `<div class="grid2">${charts.join('')}</div>${legendForFaults(faults)}`,
        `From the ${esc(metrics.source)}; shaded: faults from injection until observed recovery.`,
      ),
    );
    sections.metrics = 'ok';
  } else {
    body.push(
      section(
        'metrics',
        'Metric time series',
        notRun('Metrics collection', errors.metrics ?? 'not run (no collected tables)'),
      ),
    );
    sections.metrics = errors.metrics ? 'error' : 'not run';
  }

  // ---- anomaly score
  if (evaluation) {
    const s = evaluation.series;
    const pts = s.t.map((t, i) => ({ x: t, y: s.score[i]! }));
    const sorted = [...s.score].sort((a, b) => a - b);
    const med = sorted[sorted.length >> 1] ?? 0;
    const logY = med > 0 && (sorted[sorted.length - 1] ?? 0) / med > 200;
    const chosenScore = chosenDetector(evaluation);
    const thr = { method: chosenScore.metrics.thresholdMethod, threshold: chosenScore.metrics.threshold };
    const alarmRule = chosenScore.entry?.alarm?.rule;
    const hl = [
      { y: thr.threshold, label: `${thr.method} ${fmtNum(thr.threshold)}`, color: '#111827' },
      ...(alarmRule && alarmRule.threshold !== thr.threshold
        ? [{ y: alarmRule.threshold, label: `alarm ${fmtNum(alarmRule.threshold)}`, color: '#dc2626' }]
        : []),
    ];
    const scoreBands = bands.length ? bands : labelBands(s.t, s.label);
    body.push(
      section(
        'score',
        'Anomaly score',
        lineChart(
          [
            {
              name: `${chosenDetector(evaluation).name} score`,
              points: pts,
              color: '#2563eb',
              width: 1.2,
            },
          ],
          {
            xTime: true,
            bands: scoreBands,
            hlines: hl,
            logY,
            yLabel: logY ? 'score (log)' : 'score',
            height: 280,
            legend: false,
          },
        ) +
          `<p class="note">Test split, ${evaluation.windows.test.toLocaleString('en-US')} windows (${evaluation.windows.testAnomalous.toLocaleString('en-US')} labelled anomalous). Detector: <b>${esc(chosenScore.name)}</b>; threshold <b>${esc(thr.method)}</b> = ${fmtNum(thr.threshold)}${alarmRule ? `, alarm rule ${alarmRule.k} of ${alarmRule.n} windows ≥ ${fmtNum(alarmRule.threshold)} held ${ms(alarmRule.holdMs)}` : ''} (picked on validation only). Shaded: ${bands.length ? 'faults from the log' : 'labelled anomalous windows'}.</p>`,
      ),
    );
    sections.score = 'ok';
  } else {
    body.push(section('score', 'Anomaly score', notRun('Evaluation', errors.evaluation ?? 'not run')));
    sections.score = errors.evaluation ? 'error' : 'not run';
  }

  // ---- training
  if (history.length) {
    const line = (k: 'loss1' | 'loss2' | 'val_loss1' | 'val_loss2'): XY[] =>
      history.filter((h) => typeof h[k] === 'number').map((h) => ({ x: h.epoch, y: h[k]! }));
    const series = [
      { name: 'loss1', points: line('loss1'), color: '#2563eb' },
      { name: 'loss2', points: line('loss2'), color: '#dc2626' },
      { name: 'val loss1', points: line('val_loss1'), color: '#2563eb', dashed: true },
      { name: 'val loss2', points: line('val_loss2'), color: '#dc2626', dashed: true },
    ].filter((s) => s.points.length);
    const secs = history.reduce((a, h) => a + (h.seconds ?? 0), 0);
    const last = history[history.length - 1];
    const best =
      last?.best_epoch !== undefined
        ? ` Best validation epoch ${last.best_epoch} (the exported model)${last.stopped_early ? '; stopped early' : ''}.`
        : '';
    body.push(
      section(
        'training',
        'Training',
        lineChart(series, { xLabel: 'epoch', yLabel: 'loss', height: 260 }) +
          `<p class="note">${history.length} epochs on <b>${esc(input.trained?.device ?? '?')}</b>, ${secs.toFixed(1)} s of epoch time (${(secs / history.length).toFixed(2)} s/epoch); loss2 is adversarial and may go negative.${best}</p>`,
      ),
    );
    sections.training = 'ok';
  } else {
    body.push(
      section(
        'training',
        'Training',
        notRun('Training', errors.training ?? (input.trained ? 'no epoch history recorded' : 'not run')),
      ),
    );
    sections.training = errors.training ? 'error' : 'not run';
  }

  // ---- detection quality: ROC, PR, confusion, per fault type, baselines, sweep
  if (evaluation) {
    const { name: chosenName, metrics: u } = chosenDetector(evaluation);
    const roc = lineChart(
      [{ name: `${chosenName} (AUC ${num(u.rocAuc)})`, points: evaluation.curves.roc, color: '#2563eb' }],
      {
        title: 'ROC',
        xDomain: [0, 1],
        yDomain: [0, 1],
        diagonal: true,
        xLabel: 'false positive rate',
        yLabel: 'true positive rate',
        width: 360,
        height: 320,
        legend: false,
      },
    );
    const base = evaluation.windows.testAnomalous / Math.max(1, evaluation.windows.test);
    const pr = lineChart(
      [
        { name: `${chosenName} (AP ${num(u.prAuc)})`, points: evaluation.curves.pr, color: '#059669' },
        {
          name: 'chance',
          points: [
            { x: 0, y: base },
            { x: 1, y: base },
          ],
          color: '#9ca3af',
          dashed: true,
          width: 1,
        },
      ],
      {
        title: 'Precision–recall',
        xDomain: [0, 1],
        yDomain: [0, 1],
        xLabel: 'recall',
        yLabel: 'precision',
        width: 360,
        height: 320,
        legend: false,
      },
    );
    body.push(
      section(
        'curves',
        'ROC and precision–recall',
        `<div class="grid3"><div>${roc}</div><div>${pr}</div><div><div class="ct2">Confusion at threshold</div>${confusionMatrixSvg(u.atThreshold)}<p class="note">P ${num(u.atThreshold.precision)} · R ${num(u.atThreshold.recall)} · F1 ${num(u.atThreshold.f1)} (${esc(chosenName)}, threshold from validation)</p></div></div>`,
      ),
    );
    sections.curves = 'ok';
    sections.confusion = 'ok';

    const ft = u.perFaultType;
    const delaysByType = new Map<string, number[]>();
    for (const dl of u.delays)
      if (dl.delayMs !== null)
        (delaysByType.get(dl.faultType) ?? delaysByType.set(dl.faultType, []).get(dl.faultType)!).push(dl.delayMs);
    const ftRows = ft.map((r) => {
      const ds = delaysByType.get(r.faultType) ?? [];
      return [
        `<span class="dot" style="background:${faultColor(r.faultType)}"></span>${esc(r.faultType)}`,
        String(r.episodes),
        `${r.detectedEpisodes} (${pct(r.episodes ? r.detectedEpisodes / r.episodes : NaN, 0)})`,
        r.windows.toLocaleString('en-US'),
        pct(r.recall),
        ms(ds.length ? ds.reduce((a, b) => a + b, 0) / ds.length : null),
      ];
    });
    const pf = u.perFault ?? [];
    const pfTable = pf.length
      ? `<div class="ct2">Injected faults detected (each fault from the fault log, alarm within its labelled interval)</div>${table(
          ['fault', 'injected', 'detected', 'recall', 'mean delay'],
          pf.map((r) => [
            `<span class="dot" style="background:${faultColor(r.faultType)}"></span>${esc(r.faultType)}`,
            String(r.faults),
            String(r.detected),
            pct(r.recall),
            ms(r.meanDelayMs),
          ]),
          'num nowrap',
        )}`
      : '';
    body.push(
      section(
        'faults-detected',
        'Detection per fault type',
        ft.length
          ? `${pfTable}<div class="grid2 wide-left"><div>${table(['active fault types', 'episodes', 'detected', 'windows', 'window recall', 'mean delay'], ftRows, 'num nowrap')}</div><div>${barsSvg(ft.map((r) => ({ label: r.faultType, value: r.recall, color: faultColor(r.faultType) })))}</div></div><p class="note">At the chosen threshold. Delay: from the end of an episode's first anomalous window to the end of its first alarmed window. False alarms: ${u.falseAlarms.alarms} in ${u.falseAlarms.normalHours.toFixed(2)} h of normal operation (${num(u.falseAlarms.perHour, 2)} / h).</p>`
          : notRun('Per-fault detection', 'the test split has no labelled faults'),
      ),
    );
    sections['faults-detected'] = ft.length ? 'ok' : 'not run';

    const detectors = evaluation.detectors ?? [];
    const chosenEntry = chosenDetector(evaluation).entry;
    const detRows: string[][] = detectors.map((dt) => {
      const name =
        `<b>${esc(dt.name)}</b>` + (dt.name === evaluation.chosen?.detector ? ' <span class="tag">chosen</span>' : '');
      if (dt.cannotScore !== null || !dt.test) {
        return [
          name,
          `<td colspan="9" class="muted cannot">cannot score: ${esc(dt.cannotScore ?? 'no scores')}</td>`,
          esc(dt.description),
        ];
      }
      const t = dt.test;
      const al = dt.alarm;
      const rec = al ? al.test.recall.map((r) => `${esc(r.faultType)} ${r.detected}/${r.faults}`).join(', ') : '';
      const ref = dt.kind === 'reference';
      return [
        name,
        num(t.rocAuc),
        num(t.prAuc),
        num(t.vusPr),
        num(t.bestF1.f1),
        ref
          ? '<span class="muted">—</span>'
          : `${num(t.atThreshold.f1)} <span class="muted">(${esc(t.thresholdMethod)})</span>`,
        al
          ? `${num(al.test.falseAlarms.perHour, 1)} <span class="muted">/ ${num(al.test.quietRuns?.perHour, 1)}</span>`
          : '—',
        al ? `${pct(al.test.minRecall, 0)} <span class="muted">${rec}</span>` : '—',
        dt.validation ? num(dt.validation.vusPr) : '—',
        `<span class="muted">${num(t.bestF1PointAdjusted.f1)}</span>`,
        esc(dt.description),
      ];
    });
    const detTable = detectors.length
      ? `<table class="num detectors"><thead><tr>${[
          'detector',
          'ROC-AUC',
          'PR-AUC',
          'VUS-PR',
          'best F1',
          'F1 @ thr',
          'false alarms / quiet h <span class="muted">/ with late clearing</span>',
          'lowest kind recall',
          'val VUS-PR',
          'best F1 (PA)',
          'notes',
        ]
          .map((h) => `<th>${h}</th>`)
          .join('')}</tr></thead><tbody>${detRows
          .map((r) => `<tr>${r.map((c) => (c.startsWith('<td') ? c : `<td>${c}</td>`)).join('')}</tr>`)
          .join('')}</tbody></table>`
      : '<p class="note">This results.json predates the detector suite: USAD only.</p>';
    const choiceNote = evaluation.chosen
      ? `<p class="note"><b>Chosen: ${esc(evaluation.chosen.detector)}</b> (${esc(evaluation.chosen.rule)}): ${esc(evaluation.chosen.why)}.</p>`
      : '';
    const alarmNote = chosenEntry?.alarm
      ? `<p class="note"><b>Alarm rule</b> (${esc(chosenEntry.alarm.basis)}): ${chosenEntry.alarm.rule.k} of the last ${chosenEntry.alarm.rule.n} windows ≥ ${fmtNum(chosenEntry.alarm.rule.threshold)}, alarm held ${ms(chosenEntry.alarm.rule.holdMs)} — ${esc(chosenEntry.alarm.why)}. On test: ${num(chosenEntry.alarm.test.falseAlarms.perHour, 1)} false alarms per quiet hour (${chosenEntry.alarm.test.falseAlarms.alarms} alarm episodes touching no fault in ${(chosenEntry.alarm.test.falseAlarms.normalHours * 60).toFixed(1)} quiet min; counting every run of alarmed quiet windows, which includes alarms clearing after a fault's labelled end: ${chosenEntry.alarm.test.quietRuns?.alarms ?? '—'}, ${num(chosenEntry.alarm.test.quietRuns?.perHour, 1)}/h; ${pct(chosenEntry.alarm.test.quietAlarmShare, 1)} of quiet time under alarm); recall ${chosenEntry.alarm.test.recall.map((r) => `${esc(r.faultType)} ${r.detected}/${r.faults}`).join(', ') || '—'} (${esc(chosenEntry.alarm.test.recallBasis)}).${(chosenEntry.alarm.unseenKinds ?? []).length ? ` <b>Not in validation, so not checked by the rule:</b> ${esc(chosenEntry.alarm.unseenKinds.join(', '))} (lengthen durations.chaos so its validation head holds every kind).` : ''}</p>`
      : '';
    const coverageNote = (evaluation.coverage ?? [])
      .filter((c) => c.undefinedWhy)
      .map((c) => `<p class="note warn">Undefined: ${esc(c.undefinedWhy!)}.</p>`)
      .join('');
    const thrRows = Object.entries(evaluation.byThresholdMethod).map(([k, v]) => [
      esc(k) + (k === evaluation.chosenThreshold.method ? ' <span class="tag">chosen</span>' : ''),
      fmtNum(v.threshold),
      num(v.atThreshold.precision),
      num(v.atThreshold.recall),
      num(v.atThreshold.f1),
      num(v.falseAlarmsPerHour, 2),
    ]);
    const sweep = evaluation.sweep;
    const sweepChart = lineChart(
      [
        { name: 'ROC-AUC', points: sweep.map((r) => ({ x: r.alpha, y: r.rocAuc })), color: '#2563eb' },
        { name: 'PR-AUC', points: sweep.map((r) => ({ x: r.alpha, y: r.prAuc })), color: '#059669' },
        { name: 'best F1', points: sweep.map((r) => ({ x: r.alpha, y: r.bestF1 })), color: '#d97706' },
        {
          name: 'val best F1',
          points: sweep.filter((r) => r.valBestF1 !== null).map((r) => ({ x: r.alpha, y: r.valBestF1! })),
          color: '#6b7280',
          dashed: true,
        },
      ].filter((s) => s.points.length),
      { xLabel: 'α (β = 1 − α)', yDomain: [0, 1], height: 240, width: 520 },
    );
    body.push(
      section(
        'baselines',
        'Detectors, thresholds and α/β sweep',
        `${coverageNote}${detTable}${choiceNote}${alarmNote}
         <p class="note">All on the test split; thresholds, alarm rules and the choice come from validation only. Best F1 looks at test labels (an oracle threshold); point-adjusted F1 credits a whole fault for one alarmed window, so read it only against the random row. VUS-PR: Paparrizos et al., VLDB 2022.</p>
         <div class="grid2"><div><h3>USAD at each threshold method</h3>${table(['method', 'threshold', 'precision', 'recall', 'F1', 'false alarms / h'], thrRows, 'num')}
         <p class="note">Scoring: ${Math.round(evaluation.scoring.windowsPerSec).toLocaleString('en-US')} windows/s (onnxruntime-node, batch ${evaluation.scoring.batchSize}).</p></div>
         <div><h3>α/β sweep</h3>${sweepChart}<p class="note">Test metrics per α for analysis; “val best F1” is the fair way to pick α (validation only). The model runs once: both error terms are kept.</p></div></div>`,
      ),
    );
    sections.baselines = 'ok';
  } else {
    for (const [id, title] of [
      ['curves', 'ROC and precision–recall'],
      ['faults-detected', 'Detection per fault type'],
      ['baselines', 'Detectors, thresholds and α/β sweep'],
    ] as const) {
      body.push(section(id, title, notRun('Evaluation', errors.evaluation ?? 'not run')));
      sections[id] = errors.evaluation ? 'error' : 'not run';
    }
    sections.confusion = sections.curves!;
  }

  // ---- root-cause localisation
  if (localisation) {
    body.push(section(LOCALISATION_SECTION_ID, LOCALISATION_SECTION_TITLE, localisationSectionBody(localisation)));
    sections.localisation = 'ok';
  } else {
    body.push(
      section(
        LOCALISATION_SECTION_ID,
        LOCALISATION_SECTION_TITLE,
        notRun('Localisation', errors.localisation ?? 'not run (no localisation.json beside the evaluation)'),
      ),
    );
    sections.localisation = errors.localisation ? 'error' : 'not run';
  }

  // ---- traffic
  if (input.traffic.length) {
    const rows = input.traffic.map((t) => [
      esc(t.phase),
      ms(t.endMs - t.startMs),
      t.requests.toLocaleString('en-US'),
      t.throughputPerSec.toFixed(1),
      `${t.errors.toLocaleString('en-US')} (${pct(t.requests ? t.errors / t.requests : 0, 2)})`,
      ms(t.latencyMs.p50),
      ms(t.latencyMs.p90),
      ms(t.latencyMs.p95),
      ms(t.latencyMs.p99),
      ms(t.latencyMs.max),
    ]);
    const lat = groupedBarsSvg(
      input.traffic.map((t) => ({
        label: t.phase,
        values: (['p50', 'p90', 'p95', 'p99'] as const).map((k) => ({ name: k, value: t.latencyMs[k] })),
      })),
      { yLabel: 'latency (ms)' },
    );
    body.push(
      section(
        'traffic',
        'Traffic',
        table(['phase', 'duration', 'requests', 'req/s', 'errors', 'p50', 'p90', 'p95', 'p99', 'max'], rows, 'num') +
          (input.traffic.length > 1 ? `<div class="half">${lat}</div>` : ''),
      ),
    );
    sections.traffic = 'ok';
  } else {
    body.push(section('traffic', 'Traffic', notRun('Load generation', 'not run')));
    sections.traffic = 'not run';
  }

  // ---- browser
  if (input.browser.length) {
    const rows = input.browser.map((b) => [
      esc(b.phase),
      String(b.runs),
      String(b.passed),
      String(b.failed),
      pct(b.availability, 2),
      b.passed ? ms(b.meanJourneyMs) : '—',
    ]);
    // why journeys failed, as the journey said it (step, expectation, what the page showed), with its screenshot
    const failed = journeys.flatMap(({ phase, runs }) => runs.filter((r) => !r.ok).map((r) => ({ phase, r })));
    const shownFailed = failed.slice(0, MAX_FAILED_JOURNEYS);
    const failedRows = shownFailed.map(({ phase, r }) => [
      esc(phase),
      fmtTime(r.startMs, true),
      esc('device' in r.profile && r.profile.device ? `${r.profile.name} (${r.profile.device})` : r.profile.name),
      esc(r.failedStep ?? '—'),
      esc(r.assertion ?? ''),
      // the journey's error starts with the expectation, which has its own column
      esc(
        (r.assertion && r.error?.startsWith(`${r.assertion}: `)
          ? r.error.slice(r.assertion.length + 2)
          : (r.error ?? '')
        ).slice(0, 300),
      ),
      r.screenshot ? `<a href="${esc(relative(outDir, r.screenshot))}">png</a>` : '—',
    ]);
    const failedTable = failed.length
      ? `<h3>Failed journeys</h3>${table(['phase', 'started', 'profile', 'failed step', 'expected', 'what happened', 'screenshot'], failedRows, 'journeys')}` +
        `<p class="note">Times UTC. Screenshots are beside the report in the campaign folder (browser/&lt;phase&gt;/).${
          failed.length > shownFailed.length
            ? ` First ${shownFailed.length} of ${failed.length} shown; all are in browser/&lt;phase&gt;/runs.jsonl.`
            : ''
        }</p>`
      : '';
    body.push(
      section(
        'browser',
        'Browser probe',
        `<div class="grid2"><div>${table(['phase', 'journeys', 'passed', 'failed', 'availability', 'mean journey'], rows, 'num')}</div><div>${barsSvg(
          input.browser.map((b) => ({
            label: b.phase,
            value: b.availability,
            color: b.availability >= 0.99 ? '#059669' : b.availability >= 0.9 ? '#d97706' : '#dc2626',
          })),
        )}</div></div>${failedTable}`,
      ),
    );
    sections.browser = 'ok';
  } else {
    body.push(section('browser', 'Browser probe', notRun('Browser probe', 'not run')));
    sections.browser = 'not run';
  }

  // ---- dataset card
  if (input.dataset) {
    body.push(section('dataset', 'Dataset card', datasetCard(input, cardJson)));
    sections.dataset = 'ok';
  } else {
    body.push(section('dataset', 'Dataset card', notRun('Dataset', 'not built')));
    sections.dataset = 'not run';
  }

  // ---- fault log
  if (faults.length) {
    const rec = recoveryStats(faults);
    const shown = faults.slice(0, 300);
    const rows = shown.map((f) => [
      `<code>${esc(f.id.slice(0, 12))}</code>`,
      `<span class="dot" style="background:${faultColor(f.type)}"></span>${esc(f.type)}`,
      esc(f.target.app) +
        (f.target.pods.length ? `<br><span class="muted">${esc(f.target.pods.join(', ').slice(0, 40))}</span>` : ''),
      iso(f.plannedMs).slice(11),
      iso(f.appliedMs).slice(11),
      iso(f.removedMs).slice(11),
      iso(f.recoveredMs).slice(11),
      f.recoveredMs !== undefined && f.appliedMs !== undefined
        ? ms(f.recoveredMs - Math.max(f.appliedMs, f.removedMs ?? f.appliedMs))
        : '—',
      `<span class="st ${esc(f.status)}">${esc(f.status)}</span>${f.error ? ` <span class="muted">${esc(f.error.slice(0, 60))}</span>` : ''}`,
    ]);
    body.push(
      section(
        'faultlog',
        'Fault log',
        `<p class="note">${faults.length} faults; ${rec.faults} with observed recovery, mean ${ms(rec.meanMs)}, p95 ${ms(rec.p95Ms)} (from removal to healthy). Times UTC.${faults.length > shown.length ? ` First ${shown.length} shown; all are in results.json's source log.` : ''}</p>` +
          daemonFaultNote(input, faults) +
          `<div class="scroll">${table(['id', 'type', 'target', 'planned', 'applied', 'removed', 'recovered', 'recovery', 'status'], rows, 'small faultlog')}</div>`,
      ),
    );
    sections.faultlog = 'ok';
  } else {
    body.push(
      section(
        'faultlog',
        'Fault log',
        notRun('Chaos', input.faultLogPath ? (errors.faults ?? 'no faults were recorded') : 'not run'),
      ),
    );
    sections.faultlog = errors.faults ? 'error' : 'not run';
  }

  // ---- history
  if (comparison) {
    const fmtMetric = (metric: string, v: number | null, signed = false): string => {
      if (v === null) return '—';
      const sign = signed && v >= 0 ? '+' : '';
      if (metric.endsWith('Ms')) return sign + ms(v);
      if (metric === 'availability' || metric === 'errorRate') return sign + pct(v, 2);
      return sign + (Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3));
    };
    const rows = comparison.checks.map((c) => [
      esc(c.label),
      fmtMetric(c.metric, c.current),
      fmtMetric(c.metric, c.baseline),
      fmtMetric(c.metric, c.delta, true),
      `${c.better} is better; tolerance ${esc(c.tolerance)}`,
      c.regression
        ? '<span class="st failed">regression</span>'
        : c.baseline === null
          ? '<span class="muted">no history</span>'
          : '<span class="st removed">ok</span>',
    ]);
    body.push(
      section(
        'history',
        'Compared with earlier campaigns',
        comparison.previous.length
          ? `<p class="note">Baseline = median of ${comparison.previous.length} earlier campaign(s) with config ${esc(comparison.configHash.slice(0, 12))}.</p>${table(['metric', 'this campaign', 'baseline', 'Δ', 'rule', 'verdict'], rows, 'num')}`
          : notRun('History', 'no earlier campaign with the same config'),
      ),
    );
    sections.history = comparison.previous.length ? 'ok' : 'not run';
  } else {
    body.push(
      section('history', 'Compared with earlier campaigns', notRun('History', 'no earlier campaigns were given')),
    );
    sections.history = 'not run';
  }

  const nav = [
    ['summary', 'Summary'],
    ['metrics', 'Metrics'],
    ['score', 'Score'],
    ['training', 'Training'],
    ['curves', 'ROC / PR'],
    ['faults-detected', 'Per fault'],
    ['baselines', 'Detectors'],
    ['localisation', 'Localisation'],
    ['traffic', 'Traffic'],
    ['browser', 'Browser'],
    ['dataset', 'Dataset'],
    ['faultlog', 'Fault log'],
    ['history', 'History'],
  ]
    .map(([id, t]) => `<a href="#${id}" class="${sections[id!] === 'ok' ? '' : 'off'}">${t}</a>`)
    .join('');
  const statusTone = input.status === 'completed' ? 'good' : input.status === 'stopped' ? 'warn' : 'bad';
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>faultline — ${esc(input.campaignName)} (${esc(input.campaignId)})</title>
<style>${CSS}</style></head>
<body><header><div class="wrap"><div class="brand">faultline <span>campaign report</span></div>
<h1>${esc(input.campaignName)} <span class="badge ${statusTone}">${esc(input.status)}</span></h1>
<div class="meta">campaign <code>${esc(input.campaignId)}</code> · config <code>${esc(input.configHash.slice(0, 12))}</code> · generated ${iso(createdMs)} UTC${input.endpoints ? ` · target <code>${esc(input.endpoints.kind)}${input.endpoints.namespace ? `/${esc(input.endpoints.namespace)}` : ''}</code> at <code>${esc(input.endpoints.frontendUrl)}</code>` : ''}</div>
<nav>${nav}</nav></div></header>
<main class="wrap">${
    Object.keys(errors).length
      ? `<div class="notrun warnbox">Some parts could not be read: ${Object.entries(errors)
          .map(([k, v]) => `<b>${esc(k)}</b>: ${esc(v)}`)
          .join('; ')}</div>`
      : ''
  }${body.join('\n')}</main>
<footer class="wrap">faultline · one self-contained file, no external assets · machine-readable twin: results.json</footer>
</body></html>`;
  const htmlPath = join(outDir, 'report.html');
  await writeFile(htmlPath, html);
  const results: ReportResults = {
    schema: 'faultline-report/1',
    summary,
    sections,
    phases: input.phases,
    traffic: input.traffic,
    browser: input.browser,
    faults: {
      total: faults.length,
      byType: countBy(faults.map((f) => f.type)),
      byStatus: countBy(faults.map((f) => f.status)),
    },
    dataset: input.dataset
      ? {
          dir: input.dataset.dir,
          windows: input.dataset.windows,
          features: input.dataset.features,
          windowSize: input.dataset.windowSize,
        }
      : null,
    training: input.trained
      ? { device: input.trained.device, epochs: input.trained.epochs, seconds: input.trained.seconds, history }
      : null,
    evaluation,
    localisation,
    history: comparison,
    errors,
  };
  const resultsJsonPath = join(outDir, 'results.json');
  await writeFile(
    resultsJsonPath,
    JSON.stringify(results, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1),
  );
  return { htmlPath, resultsJsonPath };
}

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

function legendForFaults(faults: FaultRecord[]): string {
  const types = [...new Set(faults.map((f) => f.type))];
  if (!types.length) return '';
  return `<div class="legend">${types.map((t) => `<span><span class="sw" style="background:${faultColor(t)}"></span>${esc(t)}</span>`).join('')}</div>`;
}

/** Phases as a proportional bar, with fault injections as ticks. */
function phaseTimeline(input: ReportInput, faults: FaultRecord[]): string {
  const ph = input.phases.filter((p) => p.endMs > p.startMs);
  if (!ph.length) return notRun('Phases', 'no phase ran');
  const t0 = Math.min(...ph.map((p) => p.startMs));
  const t1 = Math.max(...ph.map((p) => p.endMs));
  const W = 1000;
  const x = (t: number): number => ((t - t0) / Math.max(1, t1 - t0)) * W;
  const colors = ['#dbeafe', '#dcfce7', '#fee2e2', '#fef3c7', '#ede9fe', '#e0f2fe'];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} 58" width="100%" class="chart timeline" role="img">`,
  ];
  ph.forEach((p, i) => {
    parts.push(
      `<rect x="${x(p.startMs).toFixed(1)}" y="4" width="${Math.max(1, x(p.endMs) - x(p.startMs)).toFixed(1)}" height="26" fill="${colors[i % colors.length]}" stroke="#fff"><title>${esc(p.name)} ${iso(p.startMs)}–${iso(p.endMs)}</title></rect>`,
    );
    if (x(p.endMs) - x(p.startMs) > 50)
      parts.push(`<text x="${(x(p.startMs) + 6).toFixed(1)}" y="22" class="tk">${esc(p.name)}</text>`);
  });
  for (const f of faults) {
    if (f.appliedMs === undefined || f.appliedMs < t0 || f.appliedMs > t1) continue;
    parts.push(
      `<line x1="${x(f.appliedMs).toFixed(1)}" x2="${x(f.appliedMs).toFixed(1)}" y1="32" y2="42" stroke="${faultColor(f.type)}" stroke-width="1.5"/>`,
    );
  }
  parts.push(
    `<text x="0" y="55" class="tk">${iso(t0).slice(11)} UTC</text><text x="${W}" y="55" class="tk" text-anchor="end">${iso(t1).slice(11)} UTC · ${ms(t1 - t0)}</text>`,
  );
  parts.push('</svg>');
  return `<div class="timeline-wrap"><div class="ct2">Phases and fault injections</div>${parts.join('')}</div>`;
}

function datasetCard(input: ReportInput, card: Partial<DatasetCard> | null): string {
  const ds = input.dataset!;
  const facts: string[][] = [
    [
      'windows',
      `${ds.windows.train.toLocaleString('en-US')} train · ${ds.windows.val.toLocaleString('en-US')} val · ${ds.windows.test.toLocaleString('en-US')} test`,
    ],
    [
      'window',
      `${ds.windowSize} points${card?.window ? `, stride ${card.window.stride}` : ''}${card?.stepMs ? `, step ${ms(card.stepMs)}` : ''}`,
    ],
    ['features', `${ds.features.length}: ${ds.features.map((f) => `<code>${esc(f)}</code>`).join(' ')}`],
  ];
  if (card?.import) facts.push(...importFacts(card.import));
  if (card?.labelling?.faults && !card.import) {
    facts.push([
      'labelling',
      `${esc(card.labelling.rule)}; margin ${ms(card.labelling.marginMs)}; window label “${esc(card.labelling.windowLabel)}”`,
    ]);
    facts.push([
      'faults used',
      `${card.labelling.faults.applied} applied, ${card.labelling.faults.ignored} never applied (ignored)`,
    ]);
  }
  if (card?.cleaning) {
    const c = card.cleaning as unknown as { dropped?: { name: string; reason: string }[]; filled?: unknown[] };
    facts.push([
      'cleaning',
      `${c.dropped?.length ?? 0} series dropped${c.dropped?.length ? ` (${c.dropped.map((x) => `${esc(x.name)}: ${esc(x.reason)}`).join(', ')})` : ''}; ${c.filled?.length ?? 0} short gaps filled`,
    ]);
  }
  if (card?.createdAt) facts.push(['built', esc(card.createdAt)]);
  facts.push(['files', `<code>${esc(ds.dir)}</code>`]);
  let splits = '';
  if (card?.splits) {
    // tolerate cards of other versions: only splits that carry window counts are listed
    const entries = (
      Object.entries(card.splits) as [string, Partial<DatasetCard['splits']['train']> | undefined][]
    ).filter((e): e is [string, DatasetCard['splits']['train']] => typeof e[1]?.windows === 'object');
    const rows = entries.map(([name, s]) => [
      esc(name),
      s.windows.total.toLocaleString('en-US'),
      s.windows.normal.toLocaleString('en-US'),
      s.windows.anomalous.toLocaleString('en-US'),
      Object.entries(s.windowsByFaultType ?? {})
        .map(([k, v]) => `${esc(k)} ${v}`)
        .join(', ') || '—',
    ]);
    if (rows.length)
      splits = table(['split', 'windows', 'normal', 'anomalous', 'anomalous by fault type'], rows, 'num');
  }
  return `<table class="kv"><tbody>${facts.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</tbody></table>${splits}`;
}

/** Where imported data came from, and every warning and decision of its import (dataset card). */
function importFacts(imp: NonNullable<DatasetCard['import']>): string[][] {
  return [
    [
      'imported from',
      imp.files
        .map(
          (f) =>
            `<code>${esc(f.path)}</code> (${esc(f.role)}, ${f.rowsKept.toLocaleString('en-US')} rows${f.scaledOnItsOwn ? ', scaled on its own' : ''})`,
        )
        .join('<br>') +
        ` — ${esc(imp.format)} format; timezone ${esc(imp.timezone.name)}${imp.timezone.naive ? ' (naive timestamps)' : ''}`,
    ],
    ...imp.warnings.map((w) => ['warning', `<strong>${esc(w)}</strong>`]),
    ...imp.decisions.map((d) => [esc(d.issue), esc(d.decision)]),
  ];
}
