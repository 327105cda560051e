/** Failure types thrown by the traffic activities (ApplicationFailure `type`). */
export const TrafficErrors = {
  /** bad input: not retryable */
  InvalidConfig: 'InvalidConfig',
  /** runJmx: no `jmeter` executable */
  JMeterNotInstalled: 'JMeterNotInstalled',
  /** runJmx: jmeter exited non-zero */
  JMeterFailed: 'JMeterFailed',
} as const;
