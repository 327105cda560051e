import { ApplicationFailure } from '@temporalio/common';

/** Failure types of the dataset activity; all are non-retryable (the same input fails the same way). */
export const DATASET_ERRORS = {
  /** NaN would remain after cleaning: the message names the series and time ranges. */
  nanRemains: 'DatasetNaNRemains',
  /** The collected tables or the config cannot make a dataset (no training data, mismatched columns…). */
  invalidInput: 'DatasetInvalidInput',
} as const;

/** A dataset error thrown by the pure pipeline functions; the activity turns it into a non-retryable failure. */
export class DatasetError extends Error {
  constructor(
    message: string,
    readonly type: (typeof DATASET_ERRORS)[keyof typeof DATASET_ERRORS],
  ) {
    super(message);
    this.name = 'DatasetError';
  }
}

export function toFailure(err: unknown): unknown {
  return err instanceof DatasetError ? ApplicationFailure.nonRetryable(err.message, err.type) : err;
}
