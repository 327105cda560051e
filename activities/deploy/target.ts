import type { PodInfo, TargetEndpoints } from './types';

/**
 * What a campaign needs from the system under test, whichever it is. Implementations:
 * `LocalTarget` (activities/deploy/local-target.ts: our supervisor + boutique stand-in) and
 * `KubernetesTarget` (activities/deploy/kubernetes-target.ts: @kubernetes/client-node + Chaos Mesh).
 * Fault application is per target kind and lives in activities/chaos/injectors/, which use the concrete
 * classes (supervisor API locally; Chaos Mesh custom objects on Kubernetes).
 */
export interface Target {
  readonly kind: 'local' | 'kubernetes';
  /** Idempotent: a retried deploy finds what the first attempt started instead of starting it twice. */
  deploy(signal?: AbortSignal): Promise<TargetEndpoints>;
  /** Resolves once every workload is ready (readiness, never a sleep); rejects with what is not ready. */
  waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** Removes what this campaign created. Idempotent. */
  teardown(): Promise<void>;
  /** selector: label key → value; all must match. */
  listPods(selector: Record<string, string>): Promise<PodInfo[]>;
}
