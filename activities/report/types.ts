import type { TargetEndpoints } from '../deploy/types';
import type { LoadRunSummary } from '../traffic/types';
import type { BrowserProbeSummary } from '../browser/types';
import type { PhaseWindow, CollectResult } from '../metrics/types';
import type { DatasetRef } from '../dataset/types';
import type { TrainResult, EvaluationHeadline } from '../model/types';

/** Everything a report can show; any part may be missing when its phase did not run or was stopped. */
export interface ReportInput {
  campaignId: string;
  campaignName: string;
  dataDir: string;
  configHash: string;
  status: 'completed' | 'stopped' | 'failed';
  endpoints?: TargetEndpoints;
  phases: PhaseWindow[];
  traffic: LoadRunSummary[];
  browser: BrowserProbeSummary[];
  faultLogPath?: string;
  faultsInjected: number;
  collected?: CollectResult;
  dataset?: DatasetRef;
  trained?: TrainResult;
  evaluation?: EvaluationHeadline;
  /**
   * results.json files (this report's own format, see ReportResults) of earlier campaigns; those with
   * the same configHash are compared with this one and regressions are flagged.
   */
  previousResultsPaths?: string[];
}

export interface ReportResult {
  htmlPath: string;
  resultsJsonPath: string;
}
