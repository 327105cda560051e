import { mulberry32 } from '../random';

/** A seeded random order of the candidates (Fisher–Yates): what chance looks like. */
export function randomRanking(candidates: readonly string[], seed: number): string[] {
  const rand = mulberry32(seed);
  const out = [...candidates];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as string, out[i] as string];
  }
  return out;
}
