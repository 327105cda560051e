import * as fs from 'node:fs';
import type { LabelStats, Recorder } from './recorder';

export interface LatencyStats {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** One row of JMeter's Aggregate Report. */
export interface AggregateRow {
  label: string;
  samples: number;
  errors: number;
  errorPct: number;
  /** from the intended send time (equals the service time in the closed model) */
  latencyMs: LatencyStats;
  /** from the actual send time: what the server took, without the wait to be sent */
  serviceTimeMs: LatencyStats;
  throughputPerSec: number;
  receivedKBPerSec: number;
  sentKBPerSec: number;
}

const r3 = (v: number): number => Math.round(v * 1000) / 1000;

/** `sumUs`: the sum of the values recorded in `h`, for their exact mean (the histogram's walks every bucket). */
function stats(h: LabelStats['hist'], count: number, sumUs: number): LatencyStats {
  if (count === 0) return { min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
  // histogram values are microseconds
  // HDR returns the top of a value's bucket; clamp to the exact max so min ≤ p50 ≤ … ≤ p99 ≤ max holds
  const max = h.maxValue;
  const at = (p: number): number => r3(Math.min(h.getValueAtPercentile(p), max) / 1000);
  return {
    min: r3(h.minNonZeroValue / 1000),
    mean: r3(sumUs / count / 1000),
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    max: r3(h.maxValue / 1000),
  };
}

export function aggregateRow(label: string, s: LabelStats): AggregateRow {
  const spanS = s.count > 0 ? Math.max(0.001, (s.lastEndMs - s.firstMs) / 1000) : 1;
  return {
    label,
    samples: s.count,
    errors: s.errors,
    errorPct: s.count ? r3((100 * s.errors) / s.count) : 0,
    latencyMs: stats(s.hist, s.count, s.sumUs),
    serviceTimeMs: stats(s.serviceHist, s.count, s.sumServiceUs),
    throughputPerSec: r3(s.count / spanS),
    receivedKBPerSec: r3(s.bytes / 1024 / spanS),
    sentKBPerSec: r3(s.sentBytes / 1024 / spanS),
  };
}

export function aggregateRows(rec: Recorder): { rows: AggregateRow[]; total: AggregateRow } {
  const rows = [...rec.labels].sort(([a], [b]) => a.localeCompare(b)).map(([l, s]) => aggregateRow(l, s));
  return { rows, total: aggregateRow('TOTAL', rec.total) };
}

/** The Aggregate Report as JMeter shows it (times in ms, throughput per second). */
export function aggregateText(rows: AggregateRow[], total: AggregateRow): string {
  const head = [
    'Label',
    '# Samples',
    'Average',
    'Median',
    '90% Line',
    '95% Line',
    '99% Line',
    'Min',
    'Max',
    'Error %',
    'Throughput',
    'Received KB/sec',
    'Sent KB/sec',
  ];
  const body = [...rows, total].map((r) => [
    r.label,
    String(r.samples),
    r.latencyMs.mean.toFixed(0),
    r.latencyMs.p50.toFixed(0),
    r.latencyMs.p90.toFixed(0),
    r.latencyMs.p95.toFixed(0),
    r.latencyMs.p99.toFixed(0),
    r.latencyMs.min.toFixed(0),
    r.latencyMs.max.toFixed(0),
    `${r.errorPct.toFixed(2)}%`,
    `${r.throughputPerSec.toFixed(1)}/sec`,
    r.receivedKBPerSec.toFixed(2),
    r.sentKBPerSec.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const fmt = (cols: string[]): string =>
    cols.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [fmt(head), ...body.map(fmt)].join('\n') + '\n';
}

/** Per-second series: second start (epoch ms), requests, errors, mean and max elapsed (ms). */
export function writeTimeSeries(rec: Recorder, path: string): void {
  const secs = [...rec.perSecond.keys()].sort((a, b) => a - b);
  let out = 'timeMs,requests,errors,meanMs,maxMs\n';
  for (const s of secs) {
    const v = rec.perSecond.get(s);
    if (!v) continue;
    out += `${s * 1000},${v.requests},${v.errors},${r3(v.sumElapsed / v.requests)},${v.maxElapsed}\n`;
  }
  fs.writeFileSync(path, out);
}
