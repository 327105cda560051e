/**
 * mulberry32: a small, fast, seedable PRNG, the one implementation in the project. Activities use the closure
 * (pod selection, traffic task mix, Isolation Forest sampling, synthetic data); workflows/chaos-loop.ts steps a
 * state it carries through continue-as-new with the same two functions. This module is pure (no imports, no
 * clock, no I/O) so workflow code may import it; the sequence is part of recorded workflow histories (the chaos
 * plan is drawn from it) and test/random.test.ts pins it: changing it stops old campaigns replaying.
 */

/** The next state after `state`. */
export function mulberry32Advance(state: number): number {
  return (state + 0x6d2b79f5) >>> 0;
}

/** The draw in [0, 1) a state gives (apply to the state returned by mulberry32Advance). */
export function mulberry32Output(state: number): number {
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** A stream of draws in [0, 1) from `seed`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = mulberry32Advance(a);
    return mulberry32Output(a);
  };
}
