import type { FaultType } from '../../schemas/faults';
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
  /** The chaos loop's epoch: batches of this epoch or older may no longer inject (see activities/chaos/halt.ts). */
  fenceEpoch?: number;
  /** Why (logged with each removal), e.g. "stop", "pause", "halt", "end of chaos phase". */
  reason?: string;
  /** Watch recovery of removed faults for up to this long before returning (default 10 s). */
  watchMs?: number;
}

export interface RemoveAllFaultsResult {
  removed: number;
  /** Faults that could not be removed (target unreachable), with why. */
  unreachable?: string[];
  /** Highest fault sequence number in the log (the loop continues numbering after it). */
  lastSeq?: number;
}

/** One fault of the plan (made by the workflow from the seeded schedule; target chosen at injection). */
export interface PlannedFault {
  /** Unique within the campaign, stable across continue-as-new: "f000042". */
  id: string;
  seq: number;
  /** Index into chaos.faults. */
  specIndex: number;
  type: FaultType;
  plannedMs: number;
  durationMs: number;
  /** Seeds the pod choice, so a retry picks the same pods. */
  seed: number;
}

export interface InjectBatchInput {
  campaignId: string;
  dataDir: string;
  target: TargetConfig;
  endpoints: TargetEndpoints;
  chaos: ChaosConfig;
  faults: PlannedFault[];
  /** The loop's cleanup epoch: a batch refuses to inject once cleanup fenced this epoch (see halt.ts). */
  epoch: number;
  /** Start of the chaos phase (browser-probe failures before it do not count). */
  chaosStartMs?: number;
  /** Keep removing due faults / watching recovery until then after the last injection (the last batch). */
  serviceUntilMs?: number;
  /** SLO name → first breach time, carried across batches. */
  sloBreachSince?: Record<string, number>;
  /**
   * Set when the loop started this batch while the previous one still runs: the sequence number of that batch's
   * last fault. This batch waits for its hand-over (activities/chaos/handoff.ts) before it touches anything.
   */
  afterSeq?: number;
}

export interface BatchHeartbeat {
  next: number;
  sloBreachSince: Record<string, number>;
}

export interface InjectBatchResult {
  injected: number;
  rejected: number;
  failed: number;
  /** How many planned faults were handled (== faults.length unless halted/aborted). */
  done: number;
  active: number;
  sloBreachSince: Record<string, number>;
  /** applied − planned per fault injected by this attempt, ms. */
  adherenceMs: number[];
  halted?: { reason: string; atMs: number };
  aborted?: { reason: string; atMs: number };
  /** Cleanup fenced this batch's epoch while it ran. */
  fenced?: boolean;
}

export interface ChaosPreflightResult {
  faultLogPath: string;
  /** Guard refusals every planned fault of that spec will get (also logged as each is planned). */
  refusals: string[];
  halted?: { reason: string; atMs: number };
}

export interface ExportFaultLogResult {
  jsonlPath: string;
  arrowPath: string;
  annotationsPath: string;
  records: number;
}
