import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readArrowTable } from '../metrics/arrow-table';
import { readNpyAs } from '../dataset/npy';
import { lowerBound } from '../dataset/label';
import type { EpisodesFile, FaultEpisode } from '../dataset/episodes';
import type { EvaluationResults } from '../model/evaluate';
import { applyAlarmRule } from '../model/alarms';
import { baroScores } from './baro';
import { rankServices, type ServiceRanking } from './rank';
import { randomRanking } from './random-ranker';
import { candidateServices, seriesOwner, serviceKey } from './series';
import { nearestWindowAttribution, trailingZAttribution, usadAttribution } from './attribution';
import { DEFAULT_TRAILING_Z, seriesZ, unknownFloors, zSeriesOfColumns, type Affine } from '../model/trailing-robust-z';
import { scoreCases, type LocalisationCase, type LocalisationScore } from './metrics';
import { removeCommonMode } from './common-mode';
import { callGraphFromManifest, BOUTIQUE_MANIFEST, type CallGraph } from './call-graph';
import {
  DEFAULT_SYMPTOM_WALK,
  symptomWalk,
  trainSpreads,
  normalPoints,
  MIN_NORMAL_POINTS,
  type SymptomWalkOptions,
  type SymptomWalkRanking,
} from './symptom-walk';

/** The rankers, in report order. */
export const RANKERS = [
  'faultline',
  'baro',
  'baro-rcaeval',
  'usad-attribution',
  'nearest-window-attribution',
  'trailing-z-attribution',
  'random',
] as const;
export type RankerName = (typeof RANKERS)[number];
export type View = 'detected' | 'injection';

/**
 * faultline's default localiser, and why. Chosen on a development campaign (docs/localisation.md names it and
 * which choices its labels informed), never on the episodes of the campaign it is scored on.
 */
export const DEFAULT_LOCALISER: { name: RankerName; why: string } = {
  name: 'faultline',
  why: "each service judged by its own symptom series only, in the direction a fault pushes them (latency and errors as its callers see it, readiness and pod churn, CPU and memory up; traffic volume left out: it moves both ways along calls), then the call-graph walk from the manifest names the anomalous service none of whose dependencies is anomalous: a fault's callers suffer too, so ranking by score alone names the frontend. Label- and model-free; chosen over BARO on a development campaign, not on the episodes scored here",
};

/** Which attribution is the chosen detector's own (nearest-window-stream divides the same distance). */
export function detectorAttribution(detector: string): RankerName | null {
  if (detector === 'usad') return 'usad-attribution';
  if (detector === 'nearest-window' || detector === 'nearest-window-stream') return 'nearest-window-attribution';
  if (detector === 'trailing-robust-z') return 'trailing-z-attribution';
  return null;
}

export interface RankerOutcome {
  /** every candidate service, best first */
  ranking: string[];
  top: string[];
  /** 1-based rank of the true service (null: not among the candidates) */
  truthRank: number | null;
  /** the series that gave each of the top three its score (rankers without series: empty) */
  drivers: Array<string | null>;
  /** this ranker's own time on this view, ms */
  ms: number;
  /** faultline: the anomalous services and the roots of the walk (best first) */
  anomalous?: string[];
  roots?: string[];
}

export interface RankedView {
  /** onset the ranking was computed from, UTC ms (null: not detected) */
  onsetMs: number | null;
  rankers: Partial<Record<RankerName, RankerOutcome>>;
}

export interface EpisodeLocalisation {
  id: string;
  type: string;
  truth: string[];
  appliedMs: number;
  endMs: number | null;
  detected: boolean;
  views: Record<View, RankedView>;
  /** wall time of every ranker on both views, ms */
  timeMs: number;
}

export interface RankerTiming {
  meanMs: number;
  maxMs: number;
}

export interface LocalisationResults {
  candidates: string[];
  default: { name: RankerName; why: string };
  /** the chosen detector and its own attribution ranker (null when it has none, e.g. an ensemble) */
  detector: { name: string; attribution: RankerName | null; why: string };
  /** rankers left out, and why */
  absent: Partial<Record<RankerName, string>>;
  normalMs: number;
  /** scores per view → population → ranker → 'overall' | fault kind */
  scores: Record<View, Record<'all' | 'detected', Partial<Record<RankerName, Record<string, LocalisationScore>>>>>;
  episodes: EpisodeLocalisation[];
  /** episodes outside the test split (used for thresholds) are not scored */
  skipped: number;
  timing: {
    meanMs: number;
    maxMs: number;
    totalMs: number;
    /** per ranker, per episode and view (the default localiser's own time is what an operator waits) */
    byRanker: Partial<Record<RankerName, RankerTiming>>;
    /** trailing-z-attribution's one-off pass over the whole points stream (not in its per-episode time), ms */
    trailingZStreamMs?: number;
  };
  /** the call graph faultline's walk used, and where it came from */
  callGraph: { source: string; graph: CallGraph };
  /** faultline's parameters */
  symptomWalk: SymptomWalkOptions;
}

export interface LocaliseInput {
  /** the dataset directory (points.arrow, episodes.json, {train,test}.npy, test_times.npy, features.json) */
  datasetDir: string;
  /** results.json of the evaluation (chosen detector, its alarm rule, the ONNX model, α/β) */
  resultsPath: string;
  /** the normal period before an onset BARO fits its median and IQR on (default 5 min) */
  normalMs?: number;
  /** at most this many windows from the onset on feed an attribution (default 30) */
  maxWindows?: number;
  seed?: number;
  /** where localisation.json goes (default beside results.json) */
  outPath?: string;
  /** the manifest faultline's call graph is read from (default: the Online Boutique manifest) */
  manifestPath?: string;
  symptomWalk?: Partial<SymptomWalkOptions>;
}

/** Ranks services for every fault episode of the test split, both views, every ranker; scores them. */
export async function localise(input: LocaliseInput): Promise<{ path: string; results: LocalisationResults }> {
  const normalMs = input.normalMs ?? 300_000;
  const maxWindows = input.maxWindows ?? 30;
  const seed = input.seed ?? 1;
  const dir = input.datasetDir;
  const manifest = input.manifestPath ?? BOUTIQUE_MANIFEST;
  const graph = callGraphFromManifest(manifest);
  const walkOpts: SymptomWalkOptions = { ...DEFAULT_SYMPTOM_WALK, ...input.symptomWalk };
  const need = (f: string) => {
    const p = join(dir, f);
    if (!existsSync(p))
      throw new Error(`${p} is missing: localisation needs a dataset built from a fault log (faultline dataset)`);
    return p;
  };
  const epFile = JSON.parse(await readFile(need('episodes.json'), 'utf8')) as EpisodesFile;
  const results = JSON.parse(await readFile(input.resultsPath, 'utf8')) as EvaluationResults;
  const points = await readArrowTable(need('points.arrow'));
  const ts = points.columns.get('timestamp');
  if (!ts) throw new Error(`${join(dir, 'points.arrow')}: no timestamp column`);
  // a fallback normal period holds at most normalMs of points
  const normalPointsMax = Math.max(MIN_NORMAL_POINTS, Math.round(normalMs / Math.max(1, stepOf(ts))));
  const svcCols = new Map<string, Float64Array>();
  for (const n of points.names) if (seriesOwner(n)) svcCols.set(n, points.columns.get(n)!);
  const candidates = candidateServices([...svcCols.keys()]);
  // faultline scales each series by at least its spread over the training split (normal by construction)
  const split = points.strings.get('split');
  // faultline scores the client-side latencies without the host's common part (common-mode.ts)
  const walkCols = removeCommonMode(svcCols, walkOpts.commonMode);
  const spreads = split ? trainSpreads(walkCols, (i) => split[i] === 'train', ts.length, walkOpts) : new Map();
  const features = JSON.parse(await readFile(need('features.json'), 'utf8')) as string[];
  const test = await readNpyAs(need('test.npy'), 'float32');
  const train = await readNpyAs(need('train.npy'), 'float32');
  const times = (await readNpyAs(need('test_times.npy'), 'float64')).data;
  const W = test.shape[1] ?? 1;
  const F = features.length;

  // The chosen detector's alarms on the test split: an episode's detected onset is the end of its first
  // alarmed window (the moment the alarm would be raised).
  const detName = results.chosen.detector;
  const det = results.detectors.find((d) => d.name === detName);
  const scoresPath = join(input.resultsPath, '..', `scores-${detName}.npy`);
  const absent: LocalisationResults['absent'] = {};
  let alarm: Uint8Array | null = null;
  if (det?.alarm && existsSync(scoresPath)) {
    alarm = applyAlarmRule((await readNpyAs(scoresPath, 'float64')).data, times, det.alarm.rule);
  }
  const onnx = results.onnxPath && existsSync(results.onnxPath) ? results.onnxPath : null;
  if (!onnx) absent['usad-attribution'] = `the USAD model ${results.onnxPath || '(none)'} is not on disk`;
  if (train.shape[0] === 0) absent['nearest-window-attribution'] = 'the training split has no window';
  const tz = performance.now();
  const scalerPath = join(dir, 'scaler.json');
  const scaler = existsSync(scalerPath) ? (JSON.parse(await readFile(scalerPath, 'utf8')) as Affine) : null;
  const zs = trailingZStream(points.columns, features, scaler, ts.length);
  const trailingZStreamMs = performance.now() - tz;
  if (typeof zs === 'string') absent['trailing-z-attribution'] = zs;

  const testEps = epFile.episodes.filter((e) => e.windows.test);
  const out: EpisodeLocalisation[] = [];
  for (const [i, ep] of testEps.entries()) {
    // timers (the activity's heartbeat) run between episodes
    await new Promise<void>((resolve) => setImmediate(resolve));
    const t0 = performance.now();
    const [wFrom, wTo] = ep.windows.test!;
    let detWin: number | null = null;
    if (alarm) for (let k = wFrom; k < wTo && detWin === null; k++) if (alarm[k]) detWin = k;
    const truth = ep.services.map(serviceKey);
    // The normal period stops at the previous episode's end: its effects are not "normal".
    const prevEnd = epFile.episodes[epFile.episodes.indexOf(ep) - 1]?.endMs ?? 0;
    /**
     * `onsetMs`: where the rankers' anomalous period starts; `evidenceMs`: where faultline's starts (the
     * detected view: the start of the window the alarm fired on, data the alarm itself saw; else the onset).
     */
    const view = async (onsetMs: number | null, win: number, evidenceMs = onsetMs): Promise<RankedView> => {
      if (onsetMs === null || evidenceMs === null) return { onsetMs: null, rankers: {} };
      const rankers: RankedView['rankers'] = {};
      let clock = performance.now();
      const put = (name: RankerName, r: ServiceRanking | string[]) => {
        const services = Array.isArray(r) ? r : r.services;
        const rank = services.findIndex((s) => truth.includes(s));
        const now = performance.now();
        rankers[name] = {
          top: services.slice(0, 3),
          truthRank: rank < 0 ? null : rank + 1,
          drivers: Array.isArray(r) ? [] : r.drivers.slice(0, 3),
          ranking: services,
          ms: now - clock,
          ...(isWalk(r) ? { anomalous: r.anomalous, roots: r.roots } : {}),
        };
        clock = now;
      };
      const normalBefore = (t: number) => Math.max(lowerBound(ts, t - normalMs), lowerBound(ts, Math.min(prevEnd, t)));
      const onset = lowerBound(ts, onsetMs);
      const normalFrom = normalBefore(onsetMs);
      const end = ep.endMs === null ? ts.length : Math.max(onset + 1, lowerBound(ts, ep.endMs));
      const evidence = lowerBound(ts, evidenceMs);
      put(
        'faultline',
        symptomWalk(
          walkCols,
          normalBefore(evidenceMs),
          evidence,
          Math.min(ts.length, end),
          candidates,
          graph,
          walkOpts,
          spreads,
          normalPoints(ts, normalBefore(evidenceMs), evidence, epFile.episodes, normalPointsMax),
        ),
      );
      for (const variant of ['paper', 'rcaeval'] as const) {
        const s = baroScores(svcCols, normalFrom, onset, Math.min(ts.length, end), variant);
        put(variant === 'paper' ? 'baro' : 'baro-rcaeval', rankServices(s, candidates));
      }
      const wEnd = Math.min(wTo, win + maxWindows);
      const slice = test.data.subarray(win * W * F, wEnd * W * F);
      const byFeature = (a: Float64Array) => new Map(features.map((f, j) => [f, a[j]!]));
      if (!absent['nearest-window-attribution'])
        put(
          'nearest-window-attribution',
          rankServices(byFeature(nearestWindowAttribution(train.data, slice, W, F)), candidates),
        );
      if (typeof zs !== 'string') {
        // the rows the detector's windows cover, from the evidence on: as many as the other attributions' windows
        const from = lowerBound(ts, evidenceMs);
        const to = Math.min(end, from + maxWindows);
        put('trailing-z-attribution', rankServices(byFeature(trailingZAttribution(zs, from, to)), candidates));
      }
      if (onnx)
        put(
          'usad-attribution',
          rankServices(byFeature(await usadAttribution(onnx, slice, W, F, results.alpha, results.beta)), candidates),
        );
      put('random', randomRanking(candidates, seed + i));
      return { onsetMs, rankers };
    };
    const detected = detWin !== null;
    const views: Record<View, RankedView> = {
      detected: await view(
        detected ? times[2 * detWin! + 1]! : null,
        detWin ?? wFrom,
        detected ? times[2 * detWin!]! : null,
      ),
      injection: await view(ep.appliedMs, wFrom),
    };
    out.push({
      id: ep.id,
      type: ep.type,
      truth,
      appliedMs: ep.appliedMs,
      endMs: ep.endMs,
      detected,
      views,
      timeMs: performance.now() - t0,
    });
  }

  const scores = scoreAll(out, seed);
  const ownAttribution = detectorAttribution(detName);
  const tm = out.map((e) => e.timeMs);
  const res: LocalisationResults = {
    candidates,
    default: DEFAULT_LOCALISER,
    detector: {
      name: detName,
      attribution: ownAttribution,
      why:
        ownAttribution === null
          ? `${detName} has no per-feature error to attribute; the USAD and nearest-window attributions are shown instead`
          : ownAttribution === 'trailing-z-attribution'
            ? `${detName}'s own per-series z (its score is the largest, so the top series raised the alarm)`
            : `${detName}'s own per-feature error`,
    },
    absent,
    normalMs,
    scores,
    episodes: out,
    skipped: epFile.episodes.length - testEps.length,
    timing: {
      meanMs: tm.length ? tm.reduce((a, b) => a + b, 0) / tm.length : 0,
      maxMs: tm.length ? Math.max(...tm) : 0,
      totalMs: tm.reduce((a, b) => a + b, 0),
      byRanker: rankerTiming(out),
      trailingZStreamMs,
    },
    callGraph: { source: manifest, graph },
    symptomWalk: walkOpts,
  };
  const path = input.outPath ?? join(input.resultsPath, '..', 'localisation.json');
  await writeFile(
    path,
    JSON.stringify(res, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1),
  );
  return { path, results: res };
}

/**
 * Every feature's trailing robust z over the whole points stream (in time order, the detector's own rule:
 * model/trailing-robust-z.ts, with the dataset scaler's floors for columns faultline does not know), or why
 * it cannot be computed.
 */
function trailingZStream(
  columns: ReadonlyMap<string, Float64Array>,
  features: readonly string[],
  scaler: Affine | null,
  n: number,
): Float32Array[] | string {
  const missing = features.filter((f) => !columns.has(f));
  if (missing.length) return `points.arrow has no column ${missing.slice(0, 3).join(', ')}`;
  return zSeriesOfColumns(columns, features, unknownFloors(features, scaler)).map((s) => {
    const z = new Float32Array(n);
    seriesZ(s, n, DEFAULT_TRAILING_Z, z);
    return z;
  });
}

function isWalk(r: ServiceRanking | SymptomWalkRanking | string[]): r is SymptomWalkRanking {
  return !Array.isArray(r) && 'roots' in r;
}

/** Each ranker's own time per episode and view. */
export function rankerTiming(eps: readonly EpisodeLocalisation[]): Partial<Record<RankerName, RankerTiming>> {
  const out: Partial<Record<RankerName, RankerTiming>> = {};
  for (const r of RANKERS) {
    const ms = eps.flatMap((e) => (['detected', 'injection'] as const).flatMap((v) => e.views[v].rankers[r]?.ms ?? []));
    if (ms.length) out[r] = { meanMs: ms.reduce((a, b) => a + b, 0) / ms.length, maxMs: Math.max(...ms) };
  }
  return out;
}

/** AC@k and Avg@k per view, population (all injected / detected only), ranker, and fault kind. */
export function scoreAll(eps: readonly EpisodeLocalisation[], seed = 1): LocalisationResults['scores'] {
  const out = {} as LocalisationResults['scores'];
  for (const view of ['detected', 'injection'] as const) {
    out[view] = { all: {}, detected: {} };
    for (const pop of ['all', 'detected'] as const) {
      const pool = pop === 'all' ? eps : eps.filter((e) => e.detected);
      for (const r of RANKERS) {
        if (!pool.some((e) => e.views[view].rankers[r] || e.views[view].onsetMs === null)) continue;
        if (!eps.some((e) => e.views.injection.rankers[r])) continue;
        const cases = (sub: readonly EpisodeLocalisation[]): LocalisationCase[] =>
          sub.map((e) => {
            return { ranking: e.views[view].rankers[r]?.ranking ?? null, truth: e.truth };
          });
        const byKind: Record<string, LocalisationScore> = { overall: scoreCases(cases(pool), seed) };
        for (const kind of [...new Set(pool.map((e) => e.type))].sort())
          byKind[kind] = scoreCases(cases(pool.filter((e) => e.type === kind)), seed);
        out[view][pop][r] = byKind;
      }
    }
  }
  return out;
}

export type { FaultEpisode };

/** The median spacing of the time column, ms (1 when it has fewer than two points). */
function stepOf(ts: ArrayLike<number>): number {
  const d: number[] = [];
  for (let i = 1; i < Math.min(ts.length, 1001); i++) d.push((ts[i] as number) - (ts[i - 1] as number));
  d.sort((a, b) => a - b);
  return d.length ? d[Math.floor(d.length / 2)]! : 1;
}
