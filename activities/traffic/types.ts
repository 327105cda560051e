import type { TrafficConfig } from '../../schemas/traffic';

export interface LoadRunInput {
  campaignId: string;
  dataDir: string;
  /** Phase name ('warmup' | 'baseline' | 'chaos'); files go to <dataDir>/traffic/<phase>/ */
  phase: string;
  frontendUrl: string;
  durationMs: number;
  traffic: TrafficConfig;
}

/** Small summary (no per-request data: that is in the JTL file). */
export interface LoadRunSummary {
  phase: string;
  jtlPath: string;
  summaryPath: string;
  startMs: number;
  endMs: number;
  requests: number;
  errors: number;
  throughputPerSec: number;
  latencyMs: { min: number; mean: number; p50: number; p90: number; p95: number; p99: number; max: number };
}
