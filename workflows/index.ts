// The workflow bundle's entry: every workflow type the `faultline` task queue runs.
export { campaign } from './campaign';
export { chaosLoop } from './chaos-loop';
