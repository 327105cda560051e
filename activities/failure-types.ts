import { NON_RETRYABLE_CHAOS_ERRORS } from './chaos/errors';
import { DATASET_ERRORS } from './dataset/errors';
import { KUBE_NON_RETRYABLE_ERRORS } from './deploy/kube-errors';
import { TrafficErrors } from './traffic/errors';

/**
 * The failure types (ApplicationFailure `type`, for the Kubernetes target the error class's `name`) that no retry
 * can fix, derived from each area's own error table so a new permanent error is listed where it is defined. The
 * workflows pass this as `retry.nonRetryableErrorTypes`: a failure thrown as retryable by mistake still stops at
 * once. Workflow code imports it, so this module and the tables it reads stay free of I/O and Node APIs.
 */
export const NON_RETRYABLE_FAILURE_TYPES: readonly string[] = [
  ...new Set<string>([
    ...NON_RETRYABLE_CHAOS_ERRORS,
    ...Object.values(DATASET_ERRORS),
    TrafficErrors.InvalidConfig,
    TrafficErrors.JMeterNotInstalled,
    ...KUBE_NON_RETRYABLE_ERRORS,
  ]),
];
