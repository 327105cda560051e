import { z } from 'zod';

/** USAD training and scoring (owned by activities/model and workers/training/usad). */
export const modelSchema = z
  .object({
    epochs: z.number().int().min(1).max(10000).default(30),
    batchSize: z.number().int().min(1).default(256),
    latentSize: z.number().int().min(1).default(40),
    learningRate: z.number().positive().default(1e-3),
    alpha: z.number().min(0).max(1).default(0.5),
    beta: z.number().min(0).max(1).default(0.5),
    seed: z.number().int().default(0),
    device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
  })
  .strict();
export type ModelConfig = z.infer<typeof modelSchema>;
