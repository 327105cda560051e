import { ApplicationFailure } from '@temporalio/common';

/** Failure types of the chaos activities; the workflow lists the non-retryable ones. */
export const ChaosErrorType = {
  /** Bad fault config (non-retryable). */
  InvalidConfig: 'InvalidConfig',
  /** The blast-radius guard refused the whole request (non-retryable). */
  BlastRadius: 'BlastRadius',
  /** The target (supervisor, API server) did not answer; retryable. */
  TargetUnavailable: 'TargetUnavailable',
  /** A feature that this build does not have (non-retryable). */
  NotAvailable: 'NotAvailable',
} as const;
export const NON_RETRYABLE_CHAOS_ERRORS = [
  ChaosErrorType.InvalidConfig,
  ChaosErrorType.BlastRadius,
  ChaosErrorType.NotAvailable,
];

export const invalidConfig = (msg: string) => ApplicationFailure.nonRetryable(msg, ChaosErrorType.InvalidConfig);
export const blastRadius = (msg: string) => ApplicationFailure.nonRetryable(msg, ChaosErrorType.BlastRadius);
export const notAvailable = (msg: string) => ApplicationFailure.nonRetryable(msg, ChaosErrorType.NotAvailable);
export const targetUnavailable = (msg: string, cause?: Error) =>
  ApplicationFailure.create({ message: msg, type: ChaosErrorType.TargetUnavailable, cause });
