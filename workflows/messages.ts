import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { Phase } from '../schemas/phases';

/** Task queues: CPU workers run workflows + CPU activities; the GPU pool runs training only. */
export const TASK_QUEUE = 'faultline';
export const TRAINING_TASK_QUEUE = 'faultline-training';

/** Search attributes registered on the dev server by `faultline up` (Keyword). */
export const CAMPAIGN_PHASE = defineSearchAttributeKey('CampaignPhase', 'KEYWORD');
export const CAMPAIGN_TARGET = defineSearchAttributeKey('CampaignTarget', 'KEYWORD');
export const SEARCH_ATTRIBUTES = { CampaignPhase: 'Keyword', CampaignTarget: 'Keyword' } as const;

export const pauseSignal = defineSignal<[{ reason?: string }?]>('pause');
export const resumeSignal = defineSignal('resume');
export const stopSignal = defineSignal<[{ reason?: string }?]>('stop');

export type CampaignStatus = 'running' | 'paused' | 'stopping' | 'completed' | 'stopped' | 'failed';

export interface CampaignProgress {
  campaignId: string;
  name: string;
  status: CampaignStatus;
  phase: Phase | 'done' | 'cleanup';
  phases: {
    name: Phase;
    state: 'pending' | 'running' | 'done' | 'skipped' | 'failed';
    startMs?: number;
    endMs?: number;
    /** planned length of time-bound phases (warmup, baseline, chaos) */
    plannedMs?: number;
    /** relative share of the pipeline, for progress bars */
    weight: number;
  }[];
  /**
   * Share of the pipeline done, 0..1, as of the last workflow task. A query runs at workflow time, which
   * stands still between tasks, so live displays use `liveFraction()` with the real clock.
   */
  fraction: number;
  faultsInjected: number;
  requestsSent: number;
  epochs: number;
  chaosWorkflowId?: string;
  message?: string;
}
export const progressQuery = defineQuery<CampaignProgress>('progress');

/** Chaos loop's own query (the campaign's `progress` reports its counters too). */
export interface ChaosProgress {
  injected: number;
  rejected: number;
  active: number;
  paused: boolean;
  halted: boolean;
  nextPlannedMs?: number;
}
export const chaosProgressQuery = defineQuery<ChaosProgress>('chaosProgress');

/** Chaos loop → campaign: counters, so `progress` on the campaign shows faults injected. */
export const chaosCountersSignal = defineSignal<[{ injected: number; rejected: number }]>('chaosCounters');

/** Global kill switch: `faultline chaos halt` signals every running chaos loop; resume-all lifts it. */
export const haltSignal = defineSignal<[{ reason: string }]>('halt');
export const unhaltSignal = defineSignal('unhalt');

export const campaignWorkflowId = (name: string, suffix: string) => `campaign-${name}-${suffix}`;
export const chaosWorkflowId = (campaignId: string) => `${campaignId}/chaos`;

/** Progress fraction at `nowMs` (real clock), interpolating the running time-bound phase. */
export function liveFraction(p: CampaignProgress, nowMs: number): number {
  let total = 0;
  let done = 0;
  for (const ph of p.phases) {
    if (ph.state === 'skipped') continue;
    total += ph.weight;
    if (ph.state === 'done' || ph.state === 'failed') done += ph.weight;
    else if (ph.state === 'running' && ph.startMs !== undefined && ph.plannedMs) {
      done += ph.weight * Math.min(0.99, Math.max(0, (nowMs - ph.startMs) / ph.plannedMs));
    }
  }
  if (p.status === 'completed' || p.status === 'stopped' || p.status === 'failed') return 1;
  return total > 0 ? Math.min(1, done / total) : 0;
}
