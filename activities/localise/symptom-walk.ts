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
   * Whether a fault elsewhere shows here too: latency and errors travel up the call graph (a slow dependency
   * makes its callers slow); readiness, pod churn, restarts, CPU and memory are the service's own.
   */
  propagates: boolean;
  /** 0 means "nothing measured" (a p95 with no completed call), not a value: such points are skipped */
  zeroIsMissing?: boolean;
  /**
   * The least spread a change is measured against (the series' unit): a quiet series' IQR can be ~0 (a
   * leaf service's p95 sits in one histogram bucket, an error rate is 0), and dividing by it turns any blip
   * into an outlier. Counts of discrete events (pods, restarts) take 0.01: one event is 100.
   */
  floor: number;
}

export const SYMPTOMS: Readonly<Record<string, Symptom>> = {
  ready_replicas: { dir: -1, floor: 0.01, propagates: false },
  pods_created: { dir: 1, floor: 0.01, propagates: false },
  restarts: { dir: 1, floor: 0.01, propagates: false },
  cpu: { dir: 1, floor: 0.01, propagates: false },
  mem: { dir: 1, floor: 10, propagates: false },
  error_rate: { dir: 1, floor: 0.5, propagates: true },
  client_errors: { dir: 1, floor: 0.5, propagates: true },
  latency_p95: { dir: 1, floor: 0.025, propagates: true, zeroIsMissing: true },
  client_p95: { dir: 1, floor: 0.025, propagates: true, zeroIsMissing: true },
};

export interface SymptomWalkOptions {
  /** a service is anomalous when one of its symptom series scores at least this (robust z) */
  threshold: number;
  /** scores are capped here (a flat series' change is otherwise unbounded) */
  cap: number;
  /**
   * The deviation must hold this many points (the k-th largest directed deviation of the fault period, not
   * the largest): one noisy sample of a loaded host is not a fault. 1 = BARO's maximum.
   */
  sustain: number;
  /**
   * `strict`: a service with an anomalous dependency is no root, whatever its own evidence. `explain`: an
   * anomalous dependency explains away only the service's propagating symptoms (latency, errors), not its own
   * resource or pod evidence (a stressed checkout stays a root when a dependency also looks slow).
   */
  walk: 'strict' | 'explain';
  /** latency series scored on log(seconds) (a fault multiplies latency; a slow service's noise is wider) */
  logLatency: boolean;
  /**
   * Metrics whose host-wide common part the caller removed before scoring (`removeCommonMode`): their values
   * are differences from the services' median, so 0 and below are values, and only NaN is "not measured".
   */
  commonMode: readonly string[];
}

/** Chosen on the development campaigns (docs/localisation.md), not on the campaign being scored. */
export const DEFAULT_SYMPTOM_WALK: SymptomWalkOptions = {
  threshold: 3,
  cap: 1000,
  sustain: 3,
  walk: 'explain',
  logLatency: false,
  commonMode: ['client_p95'],
};

/** The symptom of `metric` as scored under `opts` (a common-mode-removed series has no "0 = missing"). */
export function symptomOf(metric: string, opts: SymptomWalkOptions): Symptom | undefined {
  const s = SYMPTOMS[metric];
  return s && s.zeroIsMissing && opts.commonMode.includes(metric) ? { ...s, zeroIsMissing: false } : s;
}

/** One series' directed robust score: (extreme in the fault's direction − median) / max(IQR, floor). */
export function directedScore(
  x: ArrayLike<number>,
  normalFrom: number,
  onset: number,
  end: number,
  symptom: Symptom,
  opts: SymptomWalkOptions,
  /** the series' spread over the whole normal (training) data: a 30 s gap's IQR underestimates a noisy series */
  trainSpread = 0,
  /** the normal period's points when they are not [normalFrom, onset) (see `normalPoints`) */
  normalIdx?: readonly number[],
): number {
  if ((normalIdx ? normalIdx.length === 0 : onset <= normalFrom) || end <= onset) return Number.NaN;
  const log = opts.logLatency && symptom.zeroIsMissing === true;
  const normal: number[] = [];
  const idx = normalIdx ?? Array.from({ length: onset - normalFrom }, (_, i) => normalFrom + i);
  for (const t of idx) {
    const v = x[t] as number;
    if (Number.isFinite(v) && !(symptom.zeroIsMissing && v <= 0)) normal.push(log ? Math.log(v) : v);
  }
  if (normal.length === 0) return Number.NaN;
  normal.sort((a, b) => a - b);
  const median = quantile(normal, 0.5);
  const dev: number[] = [];
  for (let t = onset; t < end; t++) {
    const v = x[t] as number;
    if (Number.isFinite(v) && !(symptom.zeroIsMissing && v <= 0))
      dev.push(symptom.dir * ((log ? Math.log(v) : v) - median));
  }
  if (dev.length === 0) return Number.NaN;
  dev.sort((a, b) => b - a);
  const extreme = dev[Math.min(dev.length, Math.max(1, opts.sustain)) - 1]!;
  const scale = Math.max(quantile(normal, 0.75) - quantile(normal, 0.25), trainSpread, log ? LOG_FLOOR : symptom.floor);
  return Math.min(opts.cap, extreme / scale);
}

/** With `logLatency`: the least spread of log(latency), a 10 % change. */
const LOG_FLOOR = 0.1;

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
  /** per column: its IQR over the training split (see `trainSpreads`) */
  spreads: ReadonlyMap<string, number> = new Map(),
  normalIdx?: readonly number[],
): SymptomWalkRanking {
  // per service: the best of its own (non-propagating) series and the best of its propagating ones
  type Best = { score: number; driver: string | null };
  const none = (): Best => ({ score: Number.NEGATIVE_INFINITY, driver: null });
  const own = new Map<string, Best>(candidates.map((c) => [c, none()]));
  const prop = new Map<string, Best>(candidates.map((c) => [c, none()]));
  for (const [column, x] of cols) {
    const o = seriesOwner(column);
    const symptom = o ? symptomOf(o.metric, opts) : undefined;
    if (!o || !symptom || !own.has(o.service)) continue;
    const v = directedScore(x, normalFrom, onset, end, symptom, opts, spreads.get(column) ?? 0, normalIdx);
    const m = symptom.propagates ? prop : own;
    const cur = m.get(o.service)!;
    if (Number.isFinite(v) && (cur.driver === null || v > cur.score)) m.set(o.service, { score: v, driver: column });
  }
  const pick = (s: string, ownOnly: boolean): Best => {
    const a = own.get(s)!;
    const b = prop.get(s)!;
    return ownOnly || a.score >= b.score ? a : b;
  };
  const anomalous = new Set(candidates.filter((s) => pick(s, false).score >= opts.threshold));
  const explained = (s: string) => [...downstreamOf(graph, s)].some((d) => anomalous.has(d));
  // the evidence a service keeps after the walk: everything when nothing below it is anomalous; under
  // `explain`, only its own series when something is (what a dependency causes cannot tell them apart)
  const kept = new Map(candidates.map((s) => [s, pick(s, opts.walk === 'explain' && explained(s))]));
  const roots = new Set(
    [...anomalous].filter((s) => (opts.walk === 'explain' ? kept.get(s)!.score >= opts.threshold : !explained(s))),
  );
  const score = (s: string) => (roots.has(s) ? kept.get(s)! : pick(s, false)).score;
  const driver = (s: string) => (roots.has(s) ? kept.get(s)! : pick(s, false)).driver;
  const tier = (s: string) => (roots.has(s) ? 0 : anomalous.has(s) ? 1 : 2);
  const order = [...candidates].sort((a, b) => tier(a) - tier(b) || score(b) - score(a) || a.localeCompare(b));
  return {
    services: order,
    scores: order.map(score),
    drivers: order.map(driver),
    roots: order.filter((s) => roots.has(s)),
    anomalous: order.filter((s) => anomalous.has(s)),
  };
}

/** Each symptom series' IQR over the rows of the training split (`inTrain[i]`), measured points only. */
export function trainSpreads(
  cols: ReadonlyMap<string, ArrayLike<number>>,
  inTrain: (i: number) => boolean,
  n: number,
  opts: SymptomWalkOptions = DEFAULT_SYMPTOM_WALK,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [column, x] of cols) {
    const o = seriesOwner(column);
    const symptom = o ? symptomOf(o.metric, opts) : undefined;
    if (!symptom) continue;
    const v: number[] = [];
    for (let i = 0; i < n; i++) {
      const y = x[i] as number;
      if (inTrain(i) && Number.isFinite(y) && !(symptom.zeroIsMissing && y <= 0))
        v.push(opts.logLatency && symptom.zeroIsMissing ? Math.log(y) : y);
    }
    if (v.length < 4) continue;
    v.sort((a, b) => a - b);
    out.set(column, quantile(v, 0.75) - quantile(v, 0.25));
  }
  return out;
}

/** Fewer normal points than this before an onset and faultline looks further back (`normalPoints`). */
export const MIN_NORMAL_POINTS = 3;

/**
 * The normal period's points when the usual one ([onset − normalMs, onset), cut at the previous episode's end)
 * holds fewer than MIN_NORMAL_POINTS — overlapping episodes, or a fault whose removal outlasted the gap: the
 * points before the onset outside every episode, the last `maxPoints` of them. Undefined when the usual
 * period is long enough (it is then used as is).
 */
export function normalPoints(
  ts: ArrayLike<number>,
  normalFrom: number,
  onset: number,
  episodes: ReadonlyArray<{ appliedMs: number; endMs: number | null }>,
  maxPoints: number,
): number[] | undefined {
  if (onset - normalFrom >= MIN_NORMAL_POINTS) return undefined;
  const out: number[] = [];
  for (let i = onset - 1; i >= 0 && out.length < maxPoints; i--) {
    const t = ts[i] as number;
    if (!episodes.some((e) => t >= e.appliedMs && t < (e.endMs ?? Number.POSITIVE_INFINITY))) out.push(i);
  }
  return out.reverse();
}
