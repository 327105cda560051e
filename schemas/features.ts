import { z } from 'zod';

/** One collected feature: a PromQL expression that yields one series (owned by activities/metrics). */
export const featureSchema = z.object({ name: z.string().regex(/^[a-z][a-z0-9_]*$/), query: z.string().min(1) }).strict();

export const featuresSchema = z
  .object({
    /** 'reference' = the reference experiment's node columns; 'service' = request/error/latency/restarts per service */
    sets: z.array(z.enum(['reference', 'service'])).default(['reference', 'service']),
    extra: z.array(featureSchema).default([]),
  })
  .strict();
export type FeatureConfig = z.infer<typeof featuresSchema>;
