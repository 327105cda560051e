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
  phases: { name: Phase; state: 'pending' | 'running' | 'done' | 'skipped' | 'failed'; startMs?: number; endMs?: number }[];
  /** share of the planned pipeline done, 0..1 */
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
