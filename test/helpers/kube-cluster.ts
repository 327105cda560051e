import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CLUSTER_PORT_SPAN,
  ClusterError,
  clusterDown,
  clusterUp,
  type ClusterInfo,
} from '../../infra/kube-local/cluster';
import { startPrometheus, type RunningPrometheus } from '../../infra/kube-local/prometheus';
import { freePort, freePortRange } from './ports';

export type { ClusterInfo } from '../../infra/kube-local/cluster';
export type { RunningPrometheus } from '../../infra/kube-local/prometheus';

/**
 * One real Kubernetes control plane for the whole mocha run (etcd, kube-apiserver, controller-manager,
 * scheduler, kwok with one simulated node, kube-state-metrics, the Chaos Mesh CRDs and controller manager), on
 * free ports in a temporary directory, started on first use (suites that do not need it never pay for it) and
 * stopped by the root hook in test/hooks.ts. Its processes carry this run's pid: if the run dies, the next
 * cluster start anywhere on the machine kills them.
 *
 * Tests share it: create objects in a namespace of your own and delete it afterwards.
 * Fields: kubeconfigPath (admin), server (https URL), caPath, dir, ksmUrl (kube-state-metrics /metrics),
 * binDir (kubectl and the rest), nodeName, clientCertPath/clientKeyPath.
 */
let pending: Promise<ClusterInfo> | undefined;
let clusterDir: string | undefined;
const prometheuses = new Set<RunningPrometheus>();

export function sharedCluster(): Promise<ClusterInfo> {
  pending ??= (async () => {
    clusterDir = mkdtempSync(join(tmpdir(), 'faultline-kube-'));
    for (let attempt = 1; ; attempt++) {
      const basePort = await freePortRange(CLUSTER_PORT_SPAN);
      try {
        return await clusterUp({ dir: clusterDir, basePort, ownerPid: process.pid });
      } catch (err) {
        // another process on the machine took one of the free ports meanwhile: another range
        if (!(err instanceof ClusterError && err.reason === 'port-taken') || attempt >= 3) throw err;
      }
    }
  })();
  return pending;
}

/**
 * A Prometheus of the caller's own (fresh TSDB) scraping the shared cluster's kube-state-metrics every
 * `scrapeInterval` (default 1s) and, with `nodeExporter: true`, a node-exporter for the node_* series.
 * Stop it when done; the root hook stops any left running.
 */
export async function startClusterPrometheus(
  cluster: ClusterInfo,
  opts: { scrapeInterval?: string; nodeExporter?: boolean } = {},
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-kube-prom-'));
  const p = await startPrometheus({
    dir,
    ksmPort: cluster.ports.kubeStateMetrics,
    prometheusPort: await freePort(),
    ...(opts.nodeExporter ? { nodeExporterPort: await freePort() } : {}),
    scrapeInterval: opts.scrapeInterval ?? '1s',
    ownerPid: process.pid,
  });
  const running: RunningPrometheus = {
    ...p,
    stop: async () => {
      prometheuses.delete(running);
      await p.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  prometheuses.add(running);
  return running;
}

/** Root hook: stops every Prometheus started here and the shared cluster; nothing of theirs is left running. */
export async function stopSharedCluster(): Promise<void> {
  for (const p of [...prometheuses]) await p.stop().catch(() => undefined);
  if (!pending || !clusterDir) return;
  const dir = clusterDir;
  pending = undefined;
  clusterDir = undefined;
  await clusterDown({ dir });
  rmSync(dir, { recursive: true, force: true });
}
