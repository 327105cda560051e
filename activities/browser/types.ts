import type { BrowserConfig } from '../../schemas/browser';

export interface BrowserProbeInput {
  campaignId: string;
  dataDir: string;
  phase: string;
  frontendUrl: string;
  /** Repeat the journey until this much time has passed. */
  durationMs: number;
  browser: BrowserConfig;
}

export interface BrowserProbeSummary {
  phase: string;
  runs: number;
  passed: number;
  failed: number;
  /** passed / runs, the user-visible availability */
  availability: number;
  meanJourneyMs: number;
  /** JSONL of every run: { startMs, endMs, ok, failedStep?, error?, steps: [{name, ms}] } */
  runsPath: string;
  junitPath: string;
}
