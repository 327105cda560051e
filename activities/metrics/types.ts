import type { FeatureConfig } from '../../schemas/features';

export interface PhaseWindow {
  name: string;
  startMs: number;
  endMs: number;
}

export interface CollectInput {
  campaignId: string;
  dataDir: string;
  prometheusUrl: string;
  phases: PhaseWindow[];
  /** Resolved feature definitions (name → PromQL); see schemas/features.ts */
  features: FeatureConfig;
  stepMs: number;
}

export interface CollectResult {
  /** phase name → Arrow IPC file path */
  tables: Record<string, string>;
  rows: number;
  features: string[];
  gaps: number;
  /** Grid step of every table (epoch-ms timestamps are multiples of it). */
  stepMs?: number;
  /** phase name → JSON file of the gaps (runs of missing points) per feature. */
  gapFiles?: Record<string, string>;
}
