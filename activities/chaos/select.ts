import type { PodInfo } from '../deploy/types';
import type { FaultMode } from '../../schemas/faults';
import { mulberry32 } from '../random';

/** Stable 32-bit hash of a string (FNV-1a), to derive per-fault seeds. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Shuffles a copy deterministically (Fisher–Yates). */
function shuffled<T>(items: T[], rnd: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Picks pods by Chaos Mesh's modes (pkg/selector/generic/mode.go): one, all, fixed (count),
 * fixed-percent (floor of percent, at least one), random-max-percent (1..floor of percent). Pods are sorted
 * by name first so the choice depends only on the seed and the pod set.
 */
export function selectPods(pods: PodInfo[], mode: FaultMode, value: number | undefined, seed: number): PodInfo[] {
  if (pods.length === 0) return [];
  const rnd = mulberry32(seed);
  const sorted = [...pods].sort((a, b) => a.name.localeCompare(b.name));
  const pool = shuffled(sorted, rnd);
  const n = pool.length;
  let count: number;
  switch (mode) {
    case 'one':
      count = 1;
      break;
    case 'all':
      count = n;
      break;
    case 'fixed':
      count = Math.min(n, Math.max(1, Math.floor(value ?? 1)));
      break;
    case 'fixed-percent':
      count = Math.max(1, Math.floor((n * (value ?? 100)) / 100));
      break;
    case 'random-max-percent': {
      const max = Math.max(1, Math.floor((n * (value ?? 100)) / 100));
      count = 1 + Math.floor(rnd() * max);
      break;
    }
    default: {
      const never: never = mode;
      throw new Error(`unknown mode ${String(never)}`);
    }
  }
  return pool.slice(0, Math.min(count, n));
}

/** Picks one app among candidates (empty selector = any allowed app, like the reference's namespace-wide kill). */
export function pickOne<T>(items: T[], seed: number): T | undefined {
  if (items.length === 0) return undefined;
  return items[Math.floor(mulberry32(seed)() * items.length)];
}
