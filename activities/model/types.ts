import type { ModelConfig } from '../../schemas/model';
import type { DatasetRef } from '../dataset/types';

export interface TrainInput {
  campaignId: string;
  dataDir: string;
  dataset: DatasetRef;
  model: ModelConfig;
}

/**
 * The ONNX model contract (trainer → scorer): input "input" float32 [N, W*F] (flattened windows),
 * outputs "recon1" = AE1(w) and "recon2" = AE2(AE1(w)), both float32 [N, W*F]; dynamic batch axis.
 * Score = alpha·mean((w−recon1)²) + beta·mean((w−recon2)²).
 */
export interface TrainResult {
  onnxPath: string;
  checkpointPath: string;
  /** JSONL of epochs: {epoch, loss1, loss2, val_loss1, val_loss2, seconds} */
  historyPath: string;
  device: string;
  epochs: number;
  seconds: number;
}

export interface EvaluateInput {
  campaignId: string;
  dataDir: string;
  dataset: DatasetRef;
  trained: TrainResult;
  model: ModelConfig;
}

export interface EvaluationHeadline {
  resultsPath: string;
  rocAuc: number;
  prAuc: number;
  bestF1: number;
  bestF1PointAdjusted: number;
  f1AtThreshold: number;
  threshold: number;
  /** share of injected faults detected at the chosen threshold, by fault type (e.g. "pod-kill": 0.96) */
  faultRecall?: Record<string, number>;
}
