import { quantile } from './baro';
import { downstreamOf, type CallGraph } from './call-graph';
import type { ServiceRanking } from './rank';
import { seriesOwner } from './series';

/**
 * faultline's localiser: each service judged by its OWN symptom series only, in the direction a fault pushes
 * them, then a root-cause walk over the call graph (MicroCause / CloudRanger style: the anomalous service none
 * of whose dependencies is anomalous is the likeliest root).
 *
 * Why symptoms, and why directed: a fault at X hurts X's callers (latency, errors as they see X) but only
 * thins the traffic of X's dependencies. Volume series (request rate, network bytes) move both ways along
 * the graph and are left out; CPU and memory count only upwards (a stressed pod burns more, a starved one
 * less); readiness only downwards. So the anomalous set is X and X's callers, and the walk picks X.
 */
export interface Symptom {
  /** the way a fault at the service pushes the series */
  dir: 1 | -1;
  /**
   * The least spread a change is measured against (the series' unit): a quiet series' IQR can be ~0 (a
   * leaf service's p95 sits in one histogram bucket, an error rate is 0), and dividing by it turns any blip
   * into an outlier. Counts of discrete events (pods, restarts) take 0.01: one event is 100.
   */
  floor: number;
}

export const SYMPTOMS: Readonly<Record<string, Symptom>> = {
  ready_replicas: { dir: -1, floor: 0.01 },
  pods_created: { dir: 1, floor: 0.01 },
  restarts: { dir: 1, floor: 0.01 },
  error_rate: { dir: 1, floor: 0.5 },
  client_errors: { dir: 1, floor: 0.5 },
  latency_p95: { dir: 1, floor: 0.025 },
  client_p95: { dir: 1, floor: 0.025 },
  cpu: { dir: 1, floor: 0.01 },
  mem: { dir: 1, floor: 10 },
};

export interface SymptomWalkOptions {
  /** a service is anomalous when one of its symptom series scores at least this (robust z) */
  threshold: number;
  /** scores are capped here (a flat series' change is otherwise unbounded) */
  cap: number;
}

export const DEFAULT_SYMPTOM_WALK: SymptomWalkOptions = { threshold: 5, cap: 1000 };

/** One series' directed robust score: (extreme in the fault's direction − median) / max(IQR, floor). */
export function directedScore(
  x: ArrayLike<number>,
  normalFrom: number,
  onset: number,
  end: number,
  symptom: Symptom,
  opts: SymptomWalkOptions,
): number {
  if (onset <= normalFrom || end <= onset) return Number.NaN;
  const normal: number[] = [];
  for (let t = normalFrom; t < onset; t++) {
    const v = x[t] as number;
    if (Number.isFinite(v)) normal.push(v);
  }
  if (normal.length === 0) return Number.NaN;
  normal.sort((a, b) => a - b);
  const median = quantile(normal, 0.5);
  let extreme = Number.NEGATIVE_INFINITY;
  for (let t = onset; t < end; t++) {
    const v = x[t] as number;
    if (Number.isFinite(v)) extreme = Math.max(extreme, symptom.dir * (v - median));
  }
  if (extreme === Number.NEGATIVE_INFINITY) return Number.NaN;
  const scale = Math.max(quantile(normal, 0.75) - quantile(normal, 0.25), symptom.floor);
  return Math.min(opts.cap, extreme / scale);
}

export interface SymptomWalkRanking extends ServiceRanking {
  /** the anomalous services none of whose dependencies is anomalous, best first */
  roots: string[];
  anomalous: string[];
}

/**
 * Ranks `candidates`: the roots of the anomalous set (by score), then the other anomalous services (by score),
 * then the rest (by score). A service's score is its best symptom series'; `drivers` names that series.
 */
export function symptomWalk(
  cols: ReadonlyMap<string, ArrayLike<number>>,
  normalFrom: number,
  onset: number,
  end: number,
  candidates: readonly string[],
  graph: CallGraph,
  opts: SymptomWalkOptions = DEFAULT_SYMPTOM_WALK,
): SymptomWalkRanking {
  const best = new Map<string, { score: number; driver: string | null }>();
  for (const c of candidates) best.set(c, { score: Number.NEGATIVE_INFINITY, driver: null });
  for (const [column, x] of cols) {
    const o = seriesOwner(column);
    const symptom = o ? SYMPTOMS[o.metric] : undefined;
    if (!o || !symptom || !best.has(o.service)) continue;
    const v = directedScore(x, normalFrom, onset, end, symptom, opts);
    const cur = best.get(o.service)!;
    if (Number.isFinite(v) && (cur.driver === null || v > cur.score)) best.set(o.service, { score: v, driver: column });
  }
  const score = (s: string) => best.get(s)!.score;
  const anomalous = new Set(candidates.filter((s) => score(s) >= opts.threshold));
  const roots = new Set([...anomalous].filter((s) => ![...downstreamOf(graph, s)].some((d) => anomalous.has(d))));
  const tier = (s: string) => (roots.has(s) ? 0 : anomalous.has(s) ? 1 : 2);
  const order = [...candidates].sort((a, b) => tier(a) - tier(b) || score(b) - score(a) || a.localeCompare(b));
  return {
    services: order,
    scores: order.map(score),
    drivers: order.map((s) => best.get(s)!.driver),
    roots: order.filter((s) => roots.has(s)),
    anomalous: order.filter((s) => anomalous.has(s)),
  };
}
