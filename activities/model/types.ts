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

/**
 * The evaluation's headline (activity → workflow → CLI). Metrics are the default detector's on the test
 * split; null where the split leaves them undefined (undefinedWhy says why; JSON cannot carry NaN).
 */
export interface EvaluationHeadline {
  resultsPath: string;
  /** the default detector (chosen on validation, never on test) and why; absent in histories before the suite */
  detector?: string;
  choiceWhy?: string;
  rocAuc: number | null;
  prAuc: number | null;
  vusPr?: number | null;
  bestF1: number | null;
  /** only meaningful beside randomBestF1PointAdjusted (random scores reach ~0.85 on MSL) */
  bestF1PointAdjusted: number | null;
  randomBestF1PointAdjusted?: number | null;
  f1AtThreshold: number | null;
  threshold: number | null;
  /** share of injected faults detected at the chosen threshold, by fault type (e.g. "pod-kill": 0.96) */
  faultRecall?: Record<string, number>;
  /** the alarm rule chosen on validation, on the test split: false alarms per quiet hour and per-kind recall */
  alarms?: {
    /** alarm episodes touching no labelled fault, per quiet hour */
    falseAlarmsPerHour: number | null;
    /** runs of alarmed quiet windows per quiet hour (also counts alarms clearing late after a fault) */
    quietRunsPerHour?: number | null;
    quietHours: number;
    recall: Record<string, number>;
    rule: { threshold: number; k: number; n: number; holdMs: number };
  };
  /** which metrics are undefined and why (a split without normal or anomalous windows) */
  undefinedWhy?: string[];
}
