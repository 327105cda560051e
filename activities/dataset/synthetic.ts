import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import type { FaultRecord } from '../../schemas/fault-log';
import { FAULT_TYPES } from '../../schemas/faults';
import { writeArrowTable } from '../metrics/arrow-table';
import { mulberry32 } from '../random';

/**
 * A synthetic campaign in the collect output format (tests and the benchmark): a baseline and a
 * chaos table of smooth noisy series, short gaps sprinkled in, and a fault log whose faults raise
 * the series while active. Deterministic for a seed.
 */
export interface SyntheticOptions {
  baselineRows: number;
  chaosRows: number;
  features: number;
  stepMs?: number;
  startMs?: number;
  seed?: number;
  /** One short gap (1–3 points) every this many points per series (0 = none). */
  gapEvery?: number;
  /** One fault every this many chaos points (0 = none). */
  faultEvery?: number;
}

export interface SyntheticCampaign {
  phases: Record<'baseline' | 'chaos', { ts: Float64Array; cols: Map<string, Float64Array> }>;
  names: string[];
  faults: FaultRecord[];
  stepMs: number;
}

export function syntheticCampaign(o: SyntheticOptions): SyntheticCampaign {
  const step = o.stepMs ?? 1000;
  const start = o.startMs ?? 1_767_225_600_000; // 2026-01-01T00:00:00Z
  const rnd = mulberry32(o.seed ?? 1);
  const names = Array.from({ length: o.features }, (_, f) => `f${String(f).padStart(2, '0')}`);
  const chaosStart = start + (o.baselineRows + 60) * step; // a minute between phases, like a real campaign
  const faults: FaultRecord[] = [];
  if (o.faultEvery && o.faultEvery > 0) {
    for (let at = 30, k = 0; at < o.chaosRows - 10; at += o.faultEvery, k++) {
      const applied = chaosStart + at * step + Math.floor(rnd() * step);
      const len = (5 + Math.floor(rnd() * 20)) * step;
      faults.push({
        id: `f-${k}`,
        campaignId: 'synthetic',
        type: FAULT_TYPES[k % FAULT_TYPES.length] as FaultRecord['type'],
        target: { namespace: 'default', app: 'cartservice', pods: ['cartservice-0'] },
        params: {},
        plannedMs: applied - 50,
        appliedMs: applied,
        removedMs: applied + len,
        recoveredMs: applied + len + 2 * step,
        status: 'removed',
      });
    }
  }
  const make = (rows: number, t0: number, chaos: boolean) => {
    const ts = new Float64Array(rows);
    for (let i = 0; i < rows; i++) ts[i] = t0 + i * step;
    const active = new Uint8Array(rows);
    if (chaos) {
      for (const f of faults) {
        const a = Math.max(0, Math.ceil(((f.appliedMs as number) - t0) / step));
        const b = Math.min(rows, Math.ceil(((f.recoveredMs as number) - t0) / step));
        active.fill(1, a, b);
      }
    }
    const cols = new Map<string, Float64Array>();
    names.forEach((name, f) => {
      const v = new Float64Array(rows);
      const base = 1 + f;
      const period = 300 + 37 * f;
      for (let i = 0; i < rows; i++) {
        v[i] = base + 0.3 * Math.sin((2 * Math.PI * i) / period) + 0.05 * rnd() + (active[i] ? 0.8 + 0.2 * rnd() : 0);
      }
      if (o.gapEvery && o.gapEvery > 0) {
        for (let i = 5 + f; i < rows - 5; i += o.gapEvery) v.fill(NaN, i, i + 1 + (i % 3));
      }
      cols.set(name, v);
    });
    return { ts, cols };
  };
  return {
    phases: { baseline: make(o.baselineRows, start, false), chaos: make(o.chaosRows, chaosStart, true) },
    names,
    faults,
    stepMs: step,
  };
}

/** Writes the campaign as collect would: metrics/<phase>.arrow plus chaos/faults.jsonl. */
export async function writeSyntheticCampaign(
  dataDir: string,
  c: SyntheticCampaign,
): Promise<{ tables: Record<string, string>; faultLogPath: string }> {
  const metrics = join(dataDir, 'metrics');
  await mkdir(metrics, { recursive: true });
  const tables: Record<string, string> = {};
  for (const [phase, p] of Object.entries(c.phases)) {
    const path = join(metrics, `${phase}.arrow`);
    await writeArrowTable(
      path,
      [
        { name: 'timestamp', kind: 'f64', values: p.ts, nullable: false },
        ...c.names.map((n) => ({ name: n, kind: 'f64' as const, values: p.cols.get(n) as Float64Array })),
      ],
      {
        stepMs: String(c.stepMs),
        phase,
        features: JSON.stringify(c.names.map((n) => ({ name: n, query: `synthetic_${n}`, unit: '' }))),
      },
    );
    tables[phase] = path;
  }
  await mkdir(join(dataDir, 'chaos'), { recursive: true });
  const faultLogPath = join(dataDir, 'chaos', 'faults.jsonl');
  await writeFile(faultLogPath, c.faults.map((f) => JSON.stringify(f)).join('\n') + (c.faults.length ? '\n' : ''));
  return { tables, faultLogPath };
}
