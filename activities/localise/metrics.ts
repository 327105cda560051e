import { mulberry32 } from '../random';

/**
 * Localisation metrics as RCAEval and BARO define them. A case is a ranking (best first) and its
 * true service(s); an undetected case has no ranking (null) and is a miss at every k.
 *   AC@k  = share of cases whose true service is among the first k distinct services
 *   Avg@k = mean of AC@1 … AC@k
 */
export interface LocalisationCase {
  ranking: readonly string[] | null;
  truth: readonly string[];
}

/** 1-based rank of the first true service in the ranking, duplicates removed; null when absent. */
export function truthRank(c: LocalisationCase): number | null {
  if (!c.ranking) return null;
  const seen = new Set<string>();
  for (const s of c.ranking) {
    if (seen.has(s)) continue;
    seen.add(s);
    if (c.truth.includes(s)) return seen.size;
  }
  return null;
}

export function acAtK(cases: readonly LocalisationCase[], k: number): number {
  if (cases.length === 0) return Number.NaN;
  let hit = 0;
  for (const c of cases) {
    const r = truthRank(c);
    if (r !== null && r <= k) hit++;
  }
  return hit / cases.length;
}

export function avgAtK(cases: readonly LocalisationCase[], k: number): number {
  let s = 0;
  for (let j = 1; j <= k; j++) s += acAtK(cases, j);
  return s / k;
}

/** AC@1, AC@3, AC@5 and Avg@5 with percentile-bootstrap 95 % intervals (cases resampled, seeded). */
export interface LocalisationScore {
  cases: number;
  ac1: number;
  ac3: number;
  ac5: number;
  avg5: number;
  /** [low, high] 95 % bootstrap interval of each */
  ci: { ac1: [number, number]; ac3: [number, number]; avg5: [number, number] };
}

export function scoreCases(cases: readonly LocalisationCase[], seed = 1, resamples = 1000): LocalisationScore {
  const ranks = cases.map(truthRank);
  const stat = (rs: ReadonlyArray<number | null>) => {
    const n = rs.length;
    const ac = (k: number) => (n === 0 ? Number.NaN : rs.filter((r) => r !== null && r <= k).length / n);
    const a = [1, 2, 3, 4, 5].map(ac);
    return { ac1: a[0]!, ac3: a[2]!, ac5: a[4]!, avg5: a.reduce((x, y) => x + y, 0) / 5 };
  };
  const point = stat(ranks);
  const boots = { ac1: [] as number[], ac3: [] as number[], avg5: [] as number[] };
  if (ranks.length > 0) {
    const rand = mulberry32(seed);
    for (let b = 0; b < resamples; b++) {
      const sample = Array.from({ length: ranks.length }, () => ranks[Math.floor(rand() * ranks.length)]!);
      const s = stat(sample);
      boots.ac1.push(s.ac1);
      boots.ac3.push(s.ac3);
      boots.avg5.push(s.avg5);
    }
  }
  const ci = (v: number[]): [number, number] => {
    if (v.length === 0) return [Number.NaN, Number.NaN];
    const s = [...v].sort((x, y) => x - y);
    return [s[Math.floor(0.025 * (s.length - 1))]!, s[Math.ceil(0.975 * (s.length - 1))]!];
  };
  return { cases: cases.length, ...point, ci: { ac1: ci(boots.ac1), ac3: ci(boots.ac3), avg5: ci(boots.avg5) } };
}
