import { ApplicationFailure } from '@temporalio/common';

/** Failure types of the metrics activities (non-retryable ones are listed in the workflow's retry policy). */
export const METRICS_ERRORS = {
  /** A feature's PromQL is invalid or yields more than one series: retrying cannot help. */
  badQuery: 'InvalidFeatureQuery',
  /** Prometheus stayed unreachable or failing after all local retries (the activity retry may still succeed). */
  unavailable: 'PrometheusUnavailable',
} as const;

export function badQuery(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, METRICS_ERRORS.badQuery);
}

export function unavailable(message: string, cause?: Error): ApplicationFailure {
  return ApplicationFailure.create({ message, type: METRICS_ERRORS.unavailable, nonRetryable: false, cause });
}
