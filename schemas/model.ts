import { z } from 'zod';

/**
 * USAD training and scoring (owned by activities/model and workers/training/usad). The window size is not
 * here: it comes from the dataset (DatasetRef.windowSize); the input width is window × features.
 */
export const modelSchema = z
  .object({
    /** Upper bound; early stopping may end sooner. */
    epochs: z.number().int().min(1).max(10000).default(30),
    batchSize: z.number().int().min(1).default(256),
    /** Latent (code) size z; the hidden layers are w/2 and w/4 as in the reference implementation. */
    latentSize: z.number().int().min(1).default(40),
    learningRate: z.number().positive().default(1e-3),
    alpha: z.number().min(0).max(1).default(0.5),
    beta: z.number().min(0).max(1).default(0.5),
    seed: z.number().int().default(0),
    device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
    /** Early stopping: epochs without a better validation score before training stops; 0 turns it off. */
    patience: z.number().int().min(0).default(5),
    /** An epoch counts as better only if it lowers the validation score by more than this. */
    minDelta: z.number().min(0).default(0),
    /** torch CPU threads for the trainer; 0 = every core the process sees. */
    threads: z.number().int().min(0).default(0),
    /**
     * `paper`: the USAD paper's Algorithm 1 (one forward pass, both autoencoders updated from it);
     * `sequential`: the reference code's order (AE1 step, new forward pass, AE2 step). Both give each
     * optimizer only its own loss's gradients.
     */
    update: z.enum(['paper', 'sequential']).default('paper'),
  })
  .strict();
export type ModelConfig = z.infer<typeof modelSchema>;
