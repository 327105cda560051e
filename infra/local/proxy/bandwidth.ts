import type { ActiveFault } from './faults';

/** tbf's defaults where the fault leaves them out: a 16 KiB bucket, 1 MiB queued per connection. */
export const DEFAULT_BUFFER_BYTES = 16 * 1024;
export const DEFAULT_LIMIT_BYTES = 1024 * 1024;

/**
 * Token buckets of the `bandwidth` faults, one per (app, fault, pod): like tbf on the pod's interface, every
 * connection to that pod shares it. Kept as a virtual clock (`readyAtMs`: when the bucket has paid for every byte
 * sent so far), so a chunk's wait is one subtraction and no timer runs while nothing flows.
 */
export class Shapers {
  private readonly buckets = new Map<string, { readyAtMs: number; expiresAtMs: number }>();

  /** How long a `bytes`-long chunk to/from `pod` must wait before it leaves (0 without a bandwidth fault). */
  delayMs(faults: readonly ActiveFault[], pod: string | undefined, bytes: number, now = Date.now()): number {
    let wait = 0;
    for (const f of faults) {
      if (f.kind !== 'bandwidth' || !f.rateBytesPerSec) continue;
      const key = `${f.app}\0${f.faultId}\0${pod ?? ''}`;
      let b = this.buckets.get(key);
      if (!b) {
        b = { readyAtMs: now, expiresAtMs: f.expiresAtMs };
        this.buckets.set(key, b);
      }
      const burstMs = ((f.bufferBytes ?? DEFAULT_BUFFER_BYTES) / f.rateBytesPerSec) * 1000;
      // an idle bucket refills up to its size, never beyond: the burst a long pause allows is bounded
      b.readyAtMs = Math.max(b.readyAtMs, now - burstMs) + (bytes / f.rateBytesPerSec) * 1000;
      wait = Math.max(wait, b.readyAtMs - now);
    }
    return wait;
  }

  sweep(now = Date.now()): void {
    for (const [k, b] of this.buckets) if (b.expiresAtMs <= now) this.buckets.delete(k);
  }
}

/** The per-connection queue limit of the active bandwidth faults (the smallest wins), or undefined without one. */
export function queueLimitBytes(faults: readonly ActiveFault[]): number | undefined {
  let limit: number | undefined;
  for (const f of faults) {
    if (f.kind === 'bandwidth') limit = Math.min(limit ?? Infinity, f.limitBytes ?? DEFAULT_LIMIT_BYTES);
  }
  return limit;
}
