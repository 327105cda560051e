import { z } from 'zod';
import { duration } from './duration';

/** Labelling, cleaning and windowing (owned by activities/dataset). See docs/features.md. */
export const datasetSchema = z
  .object({
    step: duration().default('1s'),
    /** A point is anomalous from a fault's appliedMs until (recoveredMs ?? removedMs) + labelMargin (exclusive). */
    labelMargin: duration().default('5s'),
    /** Gaps (runs of missing points) up to this length are filled; longer ones fail the build (or drop the series). */
    maxGapFill: duration().default('5s'),
    /** What to do with a series that still has a gap longer than maxGapFill: fail (default) or drop it (reported). */
    onLongGap: z.enum(['fail', 'drop-series']).default('fail'),
    scaler: z.enum(['minmax', 'standard']).default('minmax'),
    /**
     * Clip scaled values: min-max to [−clip, 1 + clip] (the training range is [0, 1]), standard to
     * ±3·(1 + clip); null keeps them unbounded. See activities/dataset/scaler.ts for why.
     */
    clip: z.number().min(0).nullable().default(1),
    window: z
      .object({ size: z.number().int().min(1).default(12), stride: z.number().int().min(1).default(1) })
      .prefault({}),
    windowLabel: z.enum(['any', 'last']).default('any'),
    /** Share of the baseline, at its end, that becomes validation data (normal); the rest is training data. */
    valFraction: z.number().min(0).max(0.9).default(0.2),
    /** Share of the chaos phase, at its start, that joins validation (labelled); the rest is the held-out test set. */
    valChaosFraction: z.number().min(0).max(0.9).default(0.2),
    /**
     * Which cleaned series the detector sees (the windows' features), as glob patterns over feature
     * names (`*` matches any run of characters), e.g. ["svc_*_ready_replicas", "svc_*_error_rate"].
     * dataset.csv keeps every series either way. A pattern may match nothing (its series was dropped as
     * constant, say); the build fails only when the selection as a whole is empty.
     */
    modelFeatures: z
      .array(z.string().regex(/^[a-z0-9_*]+$/, 'lower-case letters, digits, _ and *'))
      .min(1)
      .default(['*']),
    /** Values written to dataset.csv: cleaned values in their units (raw) or the scaled values the model sees. */
    csvValues: z.enum(['raw', 'scaled']).default('raw'),
  })
  .strict();
export type DatasetConfig = z.infer<typeof datasetSchema>;
