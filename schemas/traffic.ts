import { z } from 'zod';
import { duration } from './duration';

/** Load generator settings (owned by activities/traffic). */
export const trafficSchema = z
  .object({
    enabled: z.boolean().default(true),
    model: z.enum(['closed', 'open']).default('closed'),
    /** closed model: concurrent virtual users */
    users: z.number().int().min(1).max(2000).default(10),
    /** open model: target arrivals per second */
    ratePerSec: z.number().positive().max(100000).default(60),
    rampUp: duration().default('5s'),
    thinkTime: duration().default('100ms'),
    requestTimeout: duration().default('10s'),
  })
  .strict();
export type TrafficConfig = z.infer<typeof trafficSchema>;
