import { runTraining, type TrainingDeps } from './train';
import type { TrainInput, TrainResult } from './types';

export type { TrainHeartbeat, TrainingDeps } from './train';

/** Activities of the training pool (task queue `faultline-training`, workers/training.ts). */
export function createTrainingActivities(deps: TrainingDeps = {}) {
  return {
    /** Trains USAD on the dataset (PyTorch subprocess), exports ONNX; heartbeats per epoch, resumes on retry. */
    async trainModel(input: TrainInput): Promise<TrainResult> {
      return runTraining(deps, input);
    },
  };
}
