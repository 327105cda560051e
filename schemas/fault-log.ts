import type { FaultType } from './faults';

/**
 * The ground truth of a campaign: one record per fault, folded from the append-only JSONL log
 * (<campaignDir>/chaos/faults.jsonl) written by the chaos engine as events happen.
 * Readers use `readFaultLog()` from activities/chaos/fault-log.ts. All times: UTC epoch ms.
 */
export interface FaultRecord {
  id: string;
  campaignId: string;
  type: FaultType;
  /** The selected target(s): pod name(s) and their app label. */
  target: { namespace: string; app: string; pods: string[] };
  params: Record<string, unknown>;
  plannedMs: number;
  /** When the fault took effect; absent when it was never applied. */
  appliedMs?: number;
  /** When it was removed (or expired). */
  removedMs?: number;
  /** When the target was observed healthy again (pod ready / effect gone). */
  recoveredMs?: number;
  status: 'planned' | 'applied' | 'removed' | 'rejected' | 'failed';
  /** Why it was rejected or failed. */
  error?: string;
}
