import type { ChaosConfig } from '../../schemas/faults';
import type { TargetConfig } from '../../schemas/target';
import type { TargetEndpoints } from '../deploy/types';

/** Input of the `chaosLoop` child workflow; `state` is carried across continue-as-new. */
export interface ChaosLoopInput {
  campaignId: string;
  dataDir: string;
  target: TargetConfig;
  endpoints: TargetEndpoints;
  chaos: ChaosConfig;
  /** Planned chaos window in epoch ms (workflow time). */
  startMs: number;
  endMs: number;
  /** Owned by the chaos loop; absent on the first run. */
  state?: unknown;
}

export interface ChaosLoopResult {
  /** JSONL ground-truth log: one line per event (id, type, target pod, planned, applied, removed, recovered) */
  faultLogPath: string;
  injected: number;
  rejected: number;
  /** Set when an abort condition or a halt ended the chaos phase early. */
  aborted?: { reason: string; atMs: number };
  stopped: boolean;
}

export interface RemoveAllFaultsInput {
  campaignId: string;
  dataDir: string;
  target: TargetConfig;
  endpoints?: TargetEndpoints;
}

export interface RemoveAllFaultsResult {
  removed: number;
}
