import { readFileSync } from 'node:fs';

/** One workload the supervisor runs (a Deployment + its Service). */
export interface AppSpec {
  /** The `app` label and the Deployment name, e.g. "cartservice". */
  app: string;
  replicas: number;
  /** How readiness is probed and how the Service proxies: gRPC health over TCP, or HTTP GET healthPath. */
  protocol: 'grpc' | 'http';
  /** The Service port the fault proxy listens on. */
  publicPort: number;
  /** Per replica slot: the pod's PORT and METRICS_PORT (reused by replacement pods of that slot). */
  podPorts: { port: number; metricsPort: number }[];
  /** Where Prometheus scrapes each pod: /metrics on METRICS_PORT, on PORT, or not at all. */
  metricsOn: 'metricsPort' | 'port' | 'none';
  command: string;
  args: string[];
  env: Record<string, string>;
  /** HTTP readiness path (default /_healthz, with the upstream probe cookie). */
  healthPath?: string;
  /** The `image` label of the pod's cAdvisor series (default `faultline.local/<app>:local`). */
  image?: string;
  /**
   * This app's own routes to its dependencies: for each, the supervisor listens on `port` with a proxy to the
   * dependency's pods and sets the env var `env` of this app's pods to that address (overriding `env`). Faults
   * on the dependency act on these routes too; a `partition {from: this app}` cuts only this app's route.
   */
  routes?: { dependency: string; port: number; env: string }[];
}

export interface SupervisorConfig {
  host: string;
  port: number;
  /** State file, logs. */
  dataDir: string;
  namespace: string;
  backoff: { baseMs: number; maxMs: number; resetAfterMs: number };
  readiness: { periodMs: number; timeoutMs: number; failureThreshold: number };
  proxy: { noEndpointWaitMs: number };
  /** false: do not put pods in cgroups (no CPU/memory series). Default: on where the host allows it. */
  cgroups?: boolean;
  apps: AppSpec[];
}

export const DEFAULT_BACKOFF = { baseMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 };
export const DEFAULT_READINESS = { periodMs: 500, timeoutMs: 1000, failureThreshold: 2 };

export type SupervisorConfigInput = Omit<SupervisorConfig, 'host' | 'namespace' | 'backoff' | 'readiness' | 'proxy'> &
  Partial<Pick<SupervisorConfig, 'host' | 'namespace'>> & {
    backoff?: Partial<SupervisorConfig['backoff']>;
    readiness?: Partial<SupervisorConfig['readiness']>;
    proxy?: Partial<SupervisorConfig['proxy']>;
  };

export function normalizeConfig(input: SupervisorConfigInput): SupervisorConfig {
  for (const a of input.apps) {
    for (const r of a.routes ?? []) {
      if (r.dependency === a.app || !input.apps.some((d) => d.app === r.dependency)) {
        throw new Error(`app ${a.app}: route to "${r.dependency}" names no other app of this supervisor`);
      }
    }
    if (a.podPorts.length < a.replicas) {
      throw new Error(`app ${a.app}: ${a.replicas} replicas but only ${a.podPorts.length} pod port slots`);
    }
  }
  return {
    ...input,
    host: input.host ?? '127.0.0.1',
    namespace: input.namespace ?? 'default',
    backoff: { ...DEFAULT_BACKOFF, ...input.backoff },
    readiness: { ...DEFAULT_READINESS, ...input.readiness },
    proxy: { noEndpointWaitMs: 1000, ...input.proxy },
  };
}

export function loadConfig(file: string): SupervisorConfig {
  return normalizeConfig(JSON.parse(readFileSync(file, 'utf8')) as SupervisorConfigInput);
}
