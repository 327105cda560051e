import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type { BuildDatasetInput, DatasetRef } from './types';
import { buildDatasetFromTables } from './build';
import { readFaultRecords } from './fault-records';
import { toFailure } from './errors';
import { heartbeat, startHeartbeat } from '../metrics/activity-context';
import type { FaultRecord } from '../../schemas/fault-log';

export interface DatasetDeps {
  /** Reads the ground-truth fault log (default: this folder's JSONL reader). */
  readFaultLog?: (path: string) => Promise<FaultRecord[]>;
  /** Write dataset.csv (default true). */
  csv?: boolean;
}

export function datasetDir(dataDir: string): string {
  return join(dataDir, 'dataset');
}

/** The dataset activities: `buildDataset` (label, clean, scale, window, export into <dataDir>/dataset/). */
export function createDatasetActivities(deps: DatasetDeps = {}) {
  const readLog = deps.readFaultLog ?? readFaultRecords;
  return {
    buildDataset: async (input: BuildDatasetInput): Promise<DatasetRef> => {
      // The chaos engine creates its log when it starts; no log means no fault was ever injected
      // (chaos disabled), and the card says so (faultLog: null).
      const hasLog = existsSync(input.faultLogPath);
      const faults: FaultRecord[] = hasLog ? await readLog(input.faultLogPath) : [];
      let stage = 'read';
      const stopHeartbeat = startHeartbeat(() => ({ stage }));
      try {
        const res = await buildDatasetFromTables({
          campaignId: input.campaignId,
          configHash: input.configHash,
          outDir: datasetDir(input.dataDir),
          tables: input.collected.tables,
          faults,
          faultLogPath: hasLog ? input.faultLogPath : undefined,
          config: input.dataset,
          stepMs: input.collected.stepMs,
          csv: deps.csv,
          onStage: (done) => {
            stage = `after ${done}`;
            heartbeat({ stage });
          },
        });
        // Only the reference crosses the Temporal boundary (the card is a file in the directory).
        return {
          dir: res.dir,
          cardPath: res.cardPath,
          windows: res.windows,
          features: res.features,
          windowSize: res.windowSize,
        };
      } catch (err) {
        throw toFailure(err);
      } finally {
        stopHeartbeat();
      }
    },
  };
}

export type DatasetActivities = ReturnType<typeof createDatasetActivities>;
export { buildDatasetFromTables, splitRanges, type BuildArgs, type BuildResult } from './build';
export { labelPoints, maskName, faultInterval } from './label';
export { cleanColumns, type CleanReport } from './clean';
export { fitScaler, scaleRowMajor, type ScalerParams } from './scaler';
export { makeWindows } from './windows';
export { readNpySync, writeNpySync, NpyWriter } from './npy';
export { writeReferenceCsv, REFERENCE_CSV_PREFIX } from './csv';
export { parseFaultLog, readFaultRecords } from './fault-records';
export { DatasetError, DATASET_ERRORS } from './errors';
export type { DatasetCard } from './card';
