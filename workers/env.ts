import { faultlineHome } from '../infra/home';
import { TemporalConfigError, temporalEnv, type TemporalEnv } from '../infra/temporal/connection-options';

/** The one config object workers read from their environment (12-factor: the same on a laptop and in k8s). */
export interface WorkerEnv extends TemporalEnv {
  home: string;
}

/** Throws TemporalConfigError (naming the variable to fix) before any connection attempt. */
export function workerEnv(): WorkerEnv {
  return { ...temporalEnv(), home: faultlineHome() };
}

/** Shuts the worker down gracefully on SIGTERM/SIGINT (in-flight activities finish or heartbeat out). */
export function shutdownOnSignals(shutdown: () => void): void {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      console.error(`[worker] ${sig}: shutting down gracefully`);
      shutdown();
    });
  }
}

/** A worker failed to start: a setting error prints its message and exits 2, anything else its stack, exit 1. */
export function failStart(err: unknown): never {
  if (err instanceof TemporalConfigError) {
    console.error(`[worker] ${err.message}`);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
}
