import { z } from 'zod';
import { duration } from './duration';

/** Browser probe settings (owned by activities/browser). */
export const browserSchema = z
  .object({
    enabled: z.boolean().default(true),
    profile: z.enum(['desktop', 'mobile', 'mobile-throttled']).default('desktop'),
    interval: duration().default('10s'),
    stepTimeout: duration().default('15s'),
  })
  .strict();
export type BrowserConfig = z.infer<typeof browserSchema>;
