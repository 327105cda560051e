import { seriesOwner } from './series';

/** A ranking of services, best first, with the series behind each service's score. */
export interface ServiceRanking {
  services: string[];
  scores: number[];
  /** per ranked service: the series that gave it its score (null for rankers without series) */
  drivers: Array<string | null>;
}

/**
 * Services ranked by the highest score of their own series (BARO ranks series and names each
 * series' owner; the first occurrence of a service is its rank, so max-per-service is the same
 * order with duplicates removed). Ties keep the alphabetical order; services none of whose series
 * scored (all NaN) come last. Candidates without any series are appended at the end.
 */
export function rankServices(seriesScores: ReadonlyMap<string, number>, candidates: readonly string[]): ServiceRanking {
  const best = new Map<string, { score: number; driver: string | null }>();
  for (const c of candidates) best.set(c, { score: Number.NEGATIVE_INFINITY, driver: null });
  for (const [column, score] of seriesScores) {
    const o = seriesOwner(column);
    if (!o) continue;
    const cur = best.get(o.service) ?? { score: Number.NEGATIVE_INFINITY, driver: null };
    const v = Number.isNaN(score) ? Number.NEGATIVE_INFINITY : score;
    if (cur.driver === null || v > cur.score) best.set(o.service, { score: v, driver: column });
  }
  const order = [...best.entries()].sort((a, b) => b[1].score - a[1].score || a[0].localeCompare(b[0]));
  return {
    services: order.map(([s]) => s),
    scores: order.map(([, v]) => v.score),
    drivers: order.map(([, v]) => v.driver),
  };
}
