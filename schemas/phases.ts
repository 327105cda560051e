/** Campaign phases in pipeline order. */
export const PHASES = [
  'deploy',
  'warmup',
  'baseline',
  'chaos',
  'collect',
  'dataset',
  'train',
  'evaluate',
  'report',
] as const;
export type Phase = (typeof PHASES)[number];

/**
 * Phases whose capability this build has. A phase is listed here only when its activities are
 * registered on the workers; a config asking for another one is rejected at validation time.
 * This build registers every phase's activities.
 */
export const AVAILABLE_PHASES: readonly Phase[] = PHASES;
