import { heartbeat } from '@temporalio/activity';
import type { EvaluateInput, EvaluationHeadline } from './types';
import { evaluate, type EvaluateOptions } from './evaluate';

export interface ModelActivityDeps {
  home?: string;
  /** onnxruntime intra-op threads and scoring batch; defaults suit the 2-core machine */
  scoring?: EvaluateOptions;
}

/** CPU model activities (scoring and evaluation); training lives in training-index.ts on its own queue. */
export function createModelActivities(deps: ModelActivityDeps = {}) {
  return {
    // an arrow property, so the activity can be destructured from the factory's object
    evaluateModel: async (input: EvaluateInput): Promise<EvaluationHeadline> => {
      safeHeartbeat({ stage: 'start' });
      // Heartbeats are throttled by the SDK, so every stage and scoring batch may report.
      return evaluate(input, { ...deps.scoring, onProgress: (stage, detail) => safeHeartbeat({ stage, ...detail }) });
    },
  };
}

function safeHeartbeat(details: unknown): void {
  try {
    heartbeat(details);
  } catch {
    // outside an activity context (direct calls from tests or the CLI): nothing to report to
  }
}

export { UsadScorer, combineTerms } from './score';
export type { ScoreTerms, ScorerOptions } from './score';
