import type { DatasetConfig } from '../../schemas/dataset';
import type { CollectResult } from '../metrics/types';

export interface BuildDatasetInput {
  campaignId: string;
  dataDir: string;
  collected: CollectResult;
  /** JSONL ground-truth fault log written by the chaos engine (see schemas/fault-log.ts) */
  faultLogPath: string;
  dataset: DatasetConfig;
  configHash: string;
}

/**
 * A built dataset. Files in `dir` (the contract with the trainer and the scorer):
 *   features.json                    string[] feature names (F)
 *   {train,val,test}.npy             float32 [n, W, F] scaled windows
 *   {train,val,test}_labels.npy      uint8 [n] window label (1 = anomalous)
 *   {train,val,test}_times.npy       float64 [n, 2] window start/end, epoch ms
 *   {train,val,test}_fault_types.json  (string | null)[] fault type per window (null = normal)
 *   episodes.json                    per injected fault: target service(s), kind, interval and windows (episodes.ts)
 *   points.arrow                     the labelled, cleaned point table (timestamp, features, is_anomaly, fault_type)
 *   dataset.csv                      reference layout: window_start, window_end, Normal/Attack, features...
 *   scaler.json, card.json, card.md
 */
export interface DatasetRef {
  dir: string;
  cardPath: string;
  windows: { train: number; val: number; test: number };
  features: string[];
  windowSize: number;
}
