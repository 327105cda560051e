import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { CollectInput, CollectResult } from './types';
import { resolveFeatures, type ResolvedFeature } from './features';
import { phaseGrids, queryRangeAligned, type QueryRangeOptions } from './query-range';
import { writeArrowTable } from './arrow-table';
import { heartbeat, heartbeatDetails, startHeartbeat } from './activity-context';

export interface GapRun {
  startMs: number;
  endMs: number;
  points: number;
}

/** Heartbeat details: where a retried attempt resumes (finished series are also on disk). */
export interface CollectProgress {
  phase: number;
  feature: number;
  /** Features done across all phases. */
  done: number;
  total: number;
}

export function metricsDir(dataDir: string): string {
  return join(dataDir, 'metrics');
}

/** Runs of missing (non-finite) points of one aligned series. */
export function gapRuns(ts: Float64Array, values: Float64Array): GapRun[] {
  const out: GapRun[] = [];
  let i = 0;
  while (i < values.length) {
    if (Number.isFinite(values[i])) {
      i++;
      continue;
    }
    let j = i;
    while (j < values.length && !Number.isFinite(values[j])) j++;
    out.push({ startMs: ts[i] as number, endMs: ts[j - 1] as number, points: j - i });
    i = j;
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Collects every feature for every phase from Prometheus into one aligned Arrow table per phase
 * (`<dataDir>/metrics/<phase>.arrow`: `timestamp` (epoch ms) + one Float64 column per feature,
 * null where Prometheus had no sample). Each finished series is kept in `.parts/`, so a retried
 * attempt (heartbeat details or not) does not query it again.
 */
export async function collectMetricsImpl(input: CollectInput, opts: QueryRangeOptions = {}): Promise<CollectResult> {
  if (!(input.stepMs > 0))
    throw ApplicationFailure.nonRetryable(`stepMs must be > 0, got ${input.stepMs}`, 'InvalidConfig');
  let features: ResolvedFeature[];
  try {
    features = resolveFeatures(input.features);
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, 'InvalidConfig');
  }
  if (features.length === 0) throw ApplicationFailure.nonRetryable('no features configured', 'InvalidConfig');
  const dir = metricsDir(input.dataDir);
  const total = input.phases.length * features.length;
  const resume = heartbeatDetails<CollectProgress>();
  let done = resume?.done ?? 0;
  const result: CollectResult = {
    tables: {},
    rows: 0,
    features: features.map((f) => f.name),
    gaps: 0,
    stepMs: input.stepMs,
    gapFiles: {},
  };

  let progress: CollectProgress = { phase: 0, feature: 0, done, total };
  const stopHeartbeat = startHeartbeat(() => progress);
  try {
    const grids = phaseGrids(input.phases, input.stepMs);
    for (const [p, phase] of input.phases.entries()) {
      if (!/^[a-z0-9][a-z0-9_-]*$/i.test(phase.name)) {
        throw ApplicationFailure.nonRetryable(`phase name "${phase.name}" cannot name a file`, 'InvalidConfig');
      }
      const grid = grids[p] as Float64Array;
      const partsDir = join(dir, '.parts', phase.name);
      await mkdir(partsDir, { recursive: true });
      const columns = new Map<string, Float64Array>();
      for (const [f, feature] of features.entries()) {
        const part = join(partsDir, `${feature.name}.${grid[0] ?? 0}-${input.stepMs}-${grid.length}.f64`);
        let values: Float64Array;
        if (await exists(part)) {
          const buf = await readFile(part);
          values = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
        } else {
          values = await queryRangeAligned(input.prometheusUrl, feature, grid, input.stepMs, {
            ...opts,
            onChunk: () => heartbeat((progress = { phase: p, feature: f, done, total })),
          });
          await writeFile(`${part}.tmp`, Buffer.from(values.buffer, values.byteOffset, values.byteLength));
          await rename(`${part}.tmp`, part);
          done++;
        }
        columns.set(feature.name, values);
        heartbeat((progress = { phase: p, feature: f + 1, done, total }));
      }

      const gaps: Record<string, GapRun[]> = {};
      for (const [name, values] of columns) {
        const runs = gapRuns(grid, values);
        if (runs.length) gaps[name] = runs;
        result.gaps += runs.length;
      }
      const tablePath = join(dir, `${phase.name}.arrow`);
      const gapsPath = join(dir, `${phase.name}.gaps.json`);
      await writeArrowTable(
        tablePath,
        [
          { name: 'timestamp', kind: 'f64', values: grid, nullable: false },
          ...features.map((f) => ({ name: f.name, kind: 'f64' as const, values: columns.get(f.name) as Float64Array })),
        ],
        {
          campaignId: input.campaignId,
          phase: phase.name,
          startMs: String(phase.startMs),
          endMs: String(phase.endMs),
          stepMs: String(input.stepMs),
          features: JSON.stringify(features.map((f) => ({ name: f.name, query: f.query, unit: f.unit }))),
        },
      );
      await writeFile(
        gapsPath,
        JSON.stringify({ phase: phase.name, stepMs: input.stepMs, points: grid.length, gaps }, null, 1),
      );
      result.tables[phase.name] = tablePath;
      result.gapFiles![phase.name] = gapsPath;
      result.rows += grid.length;
    }
  } finally {
    stopHeartbeat();
  }
  return result;
}
