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
  /** When the fault was planned to end (plannedMs + duration; pod-kill: end of the recovery watch). */
  plannedEndMs?: number;
  /** When the fault took effect; absent when it was never applied. */
  appliedMs?: number;
  /** When it was removed (or expired). */
  removedMs?: number;
  /** When the target was observed healthy again (pod ready / effect gone). */
  recoveredMs?: number;
  status: 'planned' | 'applied' | 'removed' | 'rejected' | 'failed';
  /** Why it was rejected or failed. */
  error?: string;
  /** Free-form notes (e.g. "removed by purge", "applied before a worker crash"). */
  notes?: string[];
}

/**
 * One line of the append-only log. Fault events carry `id`; campaign events (`campaign`, `aborted`, `halted`,
 * `stopped`) do not. Records are the fold of these events by id.
 */
export type FaultLogEvent =
  | {
      ev: 'campaign';
      ts: number;
      campaignId: string;
      targetKind: 'local' | 'kubernetes';
      supervisorUrl?: string;
      namespace?: string;
    }
  | {
      ev: 'planned';
      ts: number;
      id: string;
      campaignId: string;
      type: FaultType;
      target: FaultRecord['target'];
      params: Record<string, unknown>;
      plannedMs: number;
      plannedEndMs: number;
      /** What the injector needs to undo or observe it (pod uids/restarts before, pid file, object name). */
      detail?: Record<string, unknown>;
    }
  /** `startedMs`: when the apply call began (ts − startedMs = how long the target took to apply it). */
  | { ev: 'applied'; ts: number; id: string; startedMs?: number; note?: string }
  | { ev: 'removed'; ts: number; id: string; note?: string }
  | { ev: 'recovered'; ts: number; id: string }
  | {
      ev: 'rejected' | 'failed';
      ts: number;
      id: string;
      campaignId: string;
      type: FaultType;
      target?: FaultRecord['target'];
      params?: Record<string, unknown>;
      plannedMs: number;
      error: string;
    }
  | { ev: 'aborted' | 'halted' | 'stopped'; ts: number; reason: string };
