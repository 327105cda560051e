import type { TargetConfig } from '../../schemas/target';

/** Where a deployed target can be reached. Plain JSON: it travels through Temporal. */
export interface TargetEndpoints {
  kind: 'local' | 'kubernetes';
  /** Base URL of the boutique frontend, e.g. http://127.0.0.1:18080 */
  frontendUrl: string;
  /** Base URL of the Prometheus that scrapes the target, e.g. http://127.0.0.1:19090 */
  prometheusUrl: string;
  /** Local target only: the supervisor's HTTP API (pods, kills, fault proxy). */
  supervisorUrl?: string;
  /** Kubernetes target only. */
  namespace?: string;
}

export interface DeployInput {
  campaignId: string;
  /** The campaign's data dir (absolute). */
  dataDir: string;
  target: TargetConfig;
}

export interface TeardownInput extends DeployInput {
  /** Keep the local stack running (it is shared by campaigns); only drop what this campaign created. */
  keepStack?: boolean;
}

/** A pod as the chaos engine sees it, on either target. */
export interface PodInfo {
  name: string;
  uid: string;
  namespace: string;
  labels: Record<string, string>;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  ready: boolean;
  restarts: number;
  /** e.g. 'CrashLoopBackOff' while waiting to restart */
  reason?: string;
  startedAtMs?: number;
  /** When the pod object was created (local target: a replacement pod is created when its predecessor dies). */
  createdAtMs?: number;
}
