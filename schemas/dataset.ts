import { z } from 'zod';
import { duration } from './duration';

/** Labelling, cleaning and windowing (owned by activities/dataset). */
export const datasetSchema = z
  .object({
    step: duration().default('1s'),
    labelMargin: duration().default('5s'),
    maxGapFill: duration().default('5s'),
    scaler: z.enum(['minmax', 'standard']).default('minmax'),
    window: z.object({ size: z.number().int().min(1).default(12), stride: z.number().int().min(1).default(1) }).prefault({}),
    windowLabel: z.enum(['any', 'last']).default('any'),
  })
  .strict();
export type DatasetConfig = z.infer<typeof datasetSchema>;
