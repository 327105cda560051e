import { faultlineHome } from '../infra/home';

/** The one config object workers read from their environment (12-factor: the same on a laptop and in k8s). */
export interface WorkerEnv {
  address: string;
  namespace: string;
  home: string;
  /** TLS / API key for Temporal Cloud or a secured cluster. */
  apiKey?: string;
  tls: boolean;
}

export function workerEnv(): WorkerEnv {
  return {
    address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    home: faultlineHome(),
    apiKey: process.env.TEMPORAL_API_KEY || undefined,
    tls: process.env.TEMPORAL_TLS === 'true' || !!process.env.TEMPORAL_API_KEY,
  };
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
