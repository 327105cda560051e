import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startHeartbeat } from '../metrics/activity-context';
import { localise, type LocaliseInput, type LocalisationResults } from './localise';

/** The campaign's localisation step: a summary for the workflow; the whole result is localisation.json. */
export interface LocaliseSummary {
  path: string;
  default: string;
  episodes: number;
  detected: number;
  /** the default localiser over all injected episodes, detected view (undetected = miss) */
  ac1: number | null;
  ac3: number | null;
  avg5: number | null;
  meanMsPerEpisode: number;
}

export function createLocaliseActivities() {
  return {
    /** Null (with the reason logged by the caller) when the dataset has no fault episodes to localise. */
    localiseFaults: async (input: LocaliseInput): Promise<LocaliseSummary | { skipped: string }> => {
      // A heartbeat on a timer while the step runs (it awaits between episodes): the workflow's heartbeat
      // timeout then tells a SIGKILLed worker from a slow step in seconds, not at the 30 min start-to-close.
      const stop = startHeartbeat(() => ({ stage: 'localise' }));
      try {
        // A dataset imported from files has labels but no fault log: nothing names a target service.
        if (!existsSync(join(input.datasetDir, 'episodes.json')))
          return { skipped: `${join(input.datasetDir, 'episodes.json')} is absent (no fault log behind the labels)` };
        const { path, results } = await localise(input);
        return summarise(path, results);
      } finally {
        stop();
      }
    },
  };
}

export function summarise(path: string, r: LocalisationResults): LocaliseSummary {
  const s = r.scores.detected.all[r.default.name]?.overall;
  const num = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : v);
  return {
    path,
    default: r.default.name,
    episodes: r.episodes.length,
    detected: r.episodes.filter((e) => e.detected).length,
    ac1: num(s?.ac1),
    ac3: num(s?.ac3),
    avg5: num(s?.avg5),
    meanMsPerEpisode: r.timing.meanMs,
  };
}

export { localise, scoreAll, DEFAULT_LOCALISER, RANKERS } from './localise';
export type { LocaliseInput, LocalisationResults, EpisodeLocalisation } from './localise';
export { acAtK, avgAtK, scoreCases, truthRank } from './metrics';
export { robustScore, baroScores } from './baro';
export { rankServices } from './rank';
export { randomRanking } from './random-ranker';
export { seriesOwner, serviceKey, candidateServices } from './series';
