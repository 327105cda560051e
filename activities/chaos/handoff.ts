import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The hand-over between overlapping batch activities. The loop starts batch N+1 while batch N still injects, so
 * no workflow round trip sits between two faults; batch N+1 waits (heartbeating) until batch N has settled its
 * last fault and written this marker, and only then takes over the active faults, the recovery watches and the
 * abort state from the log. One batch at a time owns the campaign's faults; ownership moves with this file.
 */
export interface Handoff {
  /** Every fault up to and including this sequence number is settled in the log (applied, failed or rejected). */
  seq: number;
  /** SLO name → first breach time, as the finishing batch left it. */
  sloBreachSince: Record<string, number>;
  atMs: number;
}

const handoffPath = (dataDir: string) => `${dataDir.replace(/\/$/, '')}/chaos/handoff.json`;

export function readHandoff(dataDir: string): Handoff | undefined {
  try {
    return JSON.parse(readFileSync(handoffPath(dataDir), 'utf8')) as Handoff;
  } catch {
    return undefined;
  }
}

/** Atomic (rename) and monotone: a late retry of an earlier batch never moves the mark back. */
export function writeHandoff(dataDir: string, h: Handoff): void {
  const prev = readHandoff(dataDir);
  if (prev && prev.seq >= h.seq) return;
  const path = handoffPath(dataDir);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, JSON.stringify(h));
  renameSync(tmp, path);
}
