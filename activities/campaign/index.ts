import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import {
  ConfigError,
  parseCampaignConfig,
  type CampaignConfig,
  type CampaignConfigInput,
} from '../../schemas/campaign';
import { campaignDir } from '../../infra/home';
import { CampaignIndex, type CampaignIndexEntry } from './campaign-index';
import type { EvaluationHeadline } from '../model/types';

export interface CampaignActivityDeps {
  /** faultline's data root (FAULTLINE_HOME); campaign dirs live under it unless the config names one. */
  home: string;
}

export interface PrepareCampaignInput {
  campaignId: string;
  config: CampaignConfig;
}
export interface PreparedCampaign {
  dataDir: string;
  configHash: string;
  /** Where the chaos engine writes the ground truth (exists even when no fault was injected). */
  faultLogPath: string;
  startedAtMs: number;
}

export interface FinishCampaignInput {
  campaignId: string;
  dataDir: string;
  status: 'completed' | 'stopped' | 'failed';
  reportPath?: string;
  resultsPath?: string;
  headline?: EvaluationHeadline;
  faultsInjected: number;
  error?: string;
}

/** Stable hash of a config (key order independent) so campaigns of the same config can be compared. */
export function configHash(config: unknown): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>)
              .filter(([k]) => k !== 'dataDir' && k !== 'description')
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, x]) => [k, canon(x)]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canon(config)))
    .digest('hex')
    .slice(0, 16);
}

/** Bookkeeping activities: the campaign's data dir and the index that outlives Temporal's retention. */
export function createCampaignActivities(deps: CampaignActivityDeps) {
  return {
    /**
     * Parses and defaults a campaign config once, outside workflow code: the workflow works on the object
     * recorded in its history, so a schema default changed later never changes what a running (replaying)
     * campaign does. Raw JSON from the Temporal UI's Start Workflow form arrives here unparsed.
     */
    async resolveConfig(input: CampaignConfigInput): Promise<CampaignConfig> {
      try {
        return parseCampaignConfig(input);
      } catch (err) {
        if (err instanceof ConfigError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidConfig', err.issues);
        throw err;
      }
    },

    async prepareCampaign({ campaignId, config }: PrepareCampaignInput): Promise<PreparedCampaign> {
      const home = config.dataDir ?? deps.home;
      const dataDir = campaignDir(home, campaignId);
      mkdirSync(join(dataDir, 'chaos'), { recursive: true });
      writeFileSync(join(dataDir, 'config.json'), JSON.stringify(config, null, 2));
      const hash = configHash(config);
      const index = new CampaignIndex(home);
      const existing = index.get(campaignId);
      const startedAtMs = existing?.startedAtMs ?? Date.now();
      const entry: CampaignIndexEntry = {
        campaignId,
        name: config.name,
        configHash: hash,
        target: config.target.type,
        dataDir,
        status: 'running',
        startedAtMs,
      };
      index.upsert(entry);
      return { dataDir, configHash: hash, faultLogPath: join(dataDir, 'chaos', 'faults.jsonl'), startedAtMs };
    },

    async finishCampaign(input: FinishCampaignInput): Promise<void> {
      const home = join(input.dataDir, '..', '..');
      const index = new CampaignIndex(home);
      const prev = index.get(input.campaignId);
      index.upsert({
        ...(prev ?? {
          campaignId: input.campaignId,
          name: input.campaignId,
          configHash: '',
          target: 'local',
          dataDir: input.dataDir,
          startedAtMs: Date.now(),
        }),
        status: input.status,
        endedAtMs: Date.now(),
        reportPath: input.reportPath,
        resultsPath: input.resultsPath,
        faultsInjected: input.faultsInjected,
        headline: input.headline
          ? {
              rocAuc: input.headline.rocAuc,
              bestF1: input.headline.bestF1,
              bestF1PointAdjusted: input.headline.bestF1PointAdjusted,
              detector: input.headline.detector,
              vusPr: input.headline.vusPr,
            }
          : undefined,
        error: input.error,
      });
    },

    /** Earlier finished campaigns of the same config, newest first (for trend comparison in the report). */
    async campaignHistory(input: { dataDir: string; configHash: string; excludeId: string; limit?: number }) {
      return new CampaignIndex(join(input.dataDir, '..', '..'))
        .list()
        .filter((e) => e.configHash === input.configHash && e.campaignId !== input.excludeId && e.status !== 'running')
        .slice(0, input.limit ?? 20);
    },
  };
}
