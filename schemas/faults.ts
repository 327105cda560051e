import { z } from 'zod';
import { duration } from './duration';

/** The target-independent fault vocabulary (owned by activities/chaos; extended there). */
export const FAULT_TYPES = [
  'pod-kill',
  'pod-failure',
  'network-delay',
  'network-loss',
  'cpu-stress',
  'memory-stress',
  'http-abort',
  'http-delay',
] as const;
export type FaultType = (typeof FAULT_TYPES)[number];

export const chaosSchema = z
  .object({
    enabled: z.boolean().default(true),
    seed: z.number().int().default(1),
  })
  .strict();
export type ChaosConfig = z.infer<typeof chaosSchema>;
