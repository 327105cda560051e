import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseDuration } from '../../schemas/duration';
import type { InjectBatchInput } from './types';

export interface AbortState {
  breachSince: Record<string, number>;
}

/** One instant query to Prometheus' HTTP API; the first sample's value, or undefined when empty. */
export async function promInstant(
  prometheusUrl: string,
  query: string,
  signal?: AbortSignal,
): Promise<number | undefined> {
  const url = `${prometheusUrl.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`;
  const res = await fetch(url, { signal: signal ?? AbortSignal.timeout(3000) });
  if (!res.ok) throw new Error(`prometheus ${res.status}: ${(await res.text()).slice(0, 200)}`);
  const body = (await res.json()) as {
    status: string;
    data?: { resultType: string; result: unknown };
    error?: string;
  };
  if (body.status !== 'success' || !body.data) throw new Error(`prometheus: ${body.error ?? 'query failed'}`);
  const { resultType, result } = body.data;
  if (resultType === 'scalar') return Number((result as [number, string])[1]);
  const vec = result as { value: [number, string] }[];
  const first = vec[0];
  return first ? Number(first.value[1]) : undefined;
}

const breached = (v: number, op: string, t: number) =>
  op === '>' ? v > t : op === '<' ? v < t : op === '>=' ? v >= t : v <= t;

/** Latest browser-probe runs file under <dataDir>/browser (the probe writes one JSONL line per journey). */
function latestProbeRuns(dataDir: string): string | undefined {
  const dir = join(dataDir, 'browser');
  let best: { path: string; mtime: number } | undefined;
  const walk = (d: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory() && depth < 2) walk(p, depth + 1);
      else if (n.endsWith('.jsonl') && (!best || st.mtimeMs > best.mtime)) best = { path: p, mtime: st.mtimeMs };
    }
  };
  walk(dir, 0);
  return best?.path;
}

/** Trailing failed probe runs since `sinceMs`. */
export function probeFailuresInARow(runsPath: string, sinceMs: number): number {
  let text: string;
  try {
    text = readFileSync(runsPath, 'utf8');
  } catch {
    return 0;
  }
  const runs = text
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as { startMs?: number; ok?: boolean }];
      } catch {
        return [];
      }
    })
    .filter((r) => (r.startMs ?? 0) >= sinceMs);
  let n = 0;
  for (let i = runs.length - 1; i >= 0 && runs[i]?.ok === false; i--) n++;
  return n;
}

/**
 * Evaluates the abort conditions; returns the reason when one holds. An unreachable Prometheus is not a breach
 * (the loop must not stop because monitoring blinked), but it does not reset a breach in progress either.
 */
export async function checkAbort(input: InjectBatchInput, state: AbortState, now: number): Promise<string | undefined> {
  const { abort } = input.chaos;
  for (const slo of abort.slos) {
    let value: number | undefined;
    try {
      value = await promInstant(input.endpoints.prometheusUrl, slo.query);
    } catch {
      continue;
    }
    if (value === undefined || Number.isNaN(value) || !breached(value, slo.op, slo.threshold)) {
      delete state.breachSince[slo.name];
      continue;
    }
    const since = (state.breachSince[slo.name] ??= now);
    const forMs = parseDuration(slo.for);
    if (now - since >= forMs) {
      return `abort: SLO "${slo.name}" (${slo.query} ${slo.op} ${slo.threshold}) breached for ${now - since} ms (≥ ${slo.for}), last value ${value}`;
    }
  }
  if (abort.browserFailuresInARow !== undefined) {
    const runs = latestProbeRuns(input.dataDir);
    if (runs) {
      const n = probeFailuresInARow(runs, input.chaosStartMs ?? 0);
      if (n >= abort.browserFailuresInARow) {
        return `abort: ${n} browser-probe journeys failed in a row (limit ${abort.browserFailuresInARow}, ${runs})`;
      }
    }
  }
  return undefined;
}
