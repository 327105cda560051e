import { mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { haltMarkerPath } from './paths';

export interface HaltMarker {
  reason: string;
  atMs: number;
}

/** The global kill switch: a marker file every injector reads before every injection. */
export function readHalt(path = haltMarkerPath()): HaltMarker | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as HaltMarker;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // A marker we cannot parse still means "halted": failing safe beats injecting.
    return { reason: `unreadable halt marker (${String(err)})`, atMs: 0 };
  }
}

export function writeHalt(reason: string, path = haltMarkerPath()): HaltMarker {
  const marker = { reason, atMs: Date.now() };
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(marker));
  renameSync(tmp, path);
  return marker;
}

export function clearHalt(path = haltMarkerPath()): boolean {
  const had = readHalt(path) !== undefined;
  rmSync(path, { force: true });
  return had;
}

/**
 * A per-campaign fence: cleanup writes the loop's epoch here before it removes faults, and a batch of that
 * epoch (or older) refuses to inject, and undoes a fault it applied concurrently. This closes the race between
 * a cancelled batch that has not seen its cancellation yet and the cleanup that runs meanwhile.
 */
export interface Fence {
  epoch: number;
  reason: string;
  atMs: number;
}
export const fencePath = (dataDir: string) => `${dataDir.replace(/\/$/, '')}/chaos/fence.json`;

export function readFence(dataDir: string): Fence | undefined {
  try {
    return JSON.parse(readFileSync(fencePath(dataDir), 'utf8')) as Fence;
  } catch {
    return undefined;
  }
}

export function writeFence(dataDir: string, epoch: number, reason: string): void {
  const prev = readFence(dataDir);
  if (prev && prev.epoch >= epoch) return;
  const path = fencePath(dataDir);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ epoch, reason, atMs: Date.now() }));
  renameSync(tmp, path);
}
