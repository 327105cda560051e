import type { ReportInput, ReportResult } from './types';
import { writeReport } from './report';

export interface ReportActivityDeps {
  home?: string;
}

/** The campaign report: one self-contained HTML file plus results.json. */
export function createReportActivities(_deps: ReportActivityDeps = {}) {
  return {
    writeReport: (input: ReportInput): Promise<ReportResult> => writeReport(input),
  };
}

export { compareWithHistory } from './history';
export type { CampaignSummary, HistoryComparison, HistoryCheck } from './history';
