import type { CollectInput, CollectResult } from './types';
import { collectMetricsImpl } from './collect';
import type { QueryRangeOptions } from './query-range';

export interface MetricsDeps {
  /** Overrides for the query_range client (timeouts, retries, chunk size, fetch). */
  queryRange?: Omit<QueryRangeOptions, 'onChunk'>;
}

/** The metrics activities: `collectMetrics` (heartbeats; resumable on retry). */
export function createMetricsActivities(deps: MetricsDeps = {}) {
  return {
    collectMetrics: async (input: CollectInput): Promise<CollectResult> => collectMetricsImpl(input, deps.queryRange),
  };
}

export type MetricsActivities = ReturnType<typeof createMetricsActivities>;
export {
  resolveFeatures,
  referenceFeatures,
  serviceFeatures,
  stockClusterFeatures,
  type ResolvedFeature,
} from './features';
export { readArrowTable, writeArrowTable, type ColumnSpec, type NumericTable } from './arrow-table';
export { gridOf, phaseGrids, chunksOf, queryRangeAligned, MAX_POINTS_PER_CHUNK } from './query-range';
export { metricsDir, gapRuns, type GapRun } from './collect';
