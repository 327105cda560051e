import type { Command } from 'commander';
import {
  CLUSTER_PORT_SPAN,
  ClusterError,
  DEFAULT_BASE_PORT,
  clusterDown,
  clusterStatus,
  clusterUp,
  defaultClusterDir,
  type ComponentStatus,
} from '../../infra/kube-local/cluster';
import { CliError, EXIT } from '../errors';

interface UpFlags {
  dir?: string;
  basePort?: number;
  binDir?: string;
  prometheus?: boolean;
  scrapeInterval?: string;
  json?: boolean;
}

function table(components: ComponentStatus[]): string {
  const rows = components.map((c) => [
    c.name,
    c.address,
    c.pid === undefined ? '-' : String(c.pid),
    c.healthy ? 'healthy' : c.running ? 'UNHEALTHY' : 'NOT RUNNING',
  ]);
  const head = ['component', 'address', 'pid', 'health'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(w[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function asCliError(err: unknown): unknown {
  if (err instanceof ClusterError) {
    return new CliError(`cluster: ${err.message}`, err.reason === 'failed' ? EXIT.error : EXIT.unavailable);
  }
  return err;
}

/**
 * `faultline cluster up|down|status`: a real Kubernetes control plane on 127.0.0.1 (etcd, kube-apiserver,
 * controller-manager, scheduler, kwok's simulated node, kube-state-metrics, Chaos Mesh's CRDs and controller
 * manager), from the binaries infra/kube-local/build.sh builds. See docs/kubernetes.md.
 */
export function registerClusterCommands(program: Command): void {
  const cluster = program
    .command('cluster')
    .description(
      'a local Kubernetes control plane (simulated node, Chaos Mesh, kube-state-metrics) for trying campaigns',
    );
  const dirOpt = [
    '--dir <dir>',
    `cluster state, certificates, kubeconfig and logs (default ${defaultClusterDir()})`,
  ] as const;
  cluster
    .command('up')
    .description('start the cluster (or reuse the healthy one already running in --dir) and print its kubeconfig')
    .option(...dirOpt)
    .option(
      '--base-port <port>',
      `first of the ${CLUSTER_PORT_SPAN} ports it uses on 127.0.0.1 (API server = base + 3)`,
      (v) => Number(v),
      DEFAULT_BASE_PORT,
    )
    .option('--bin-dir <dir>', 'binaries built by infra/kube-local/build.sh (default $FAULTLINE_KUBE_BIN or its cache)')
    .option('--no-prometheus', 'do not start node-exporter and a Prometheus scraping kube-state-metrics')
    .option('--scrape-interval <duration>', "that Prometheus's scrape interval", '1s')
    .option('--json', 'print the cluster info as JSON')
    .action(async (flags: UpFlags) => {
      let info;
      try {
        info = await clusterUp({
          dir: flags.dir,
          basePort: flags.basePort,
          binDir: flags.binDir,
          prometheus: flags.prometheus !== false,
          scrapeInterval: flags.scrapeInterval,
          onProgress: flags.json ? undefined : (line) => console.error(`  ${line}`),
        });
      } catch (err) {
        throw asCliError(err);
      }
      if (flags.json) {
        console.log(JSON.stringify(info, null, 2));
        return;
      }
      console.log(
        `cluster ${info.reused ? 'already running (reused)' : `ready in ${(info.readyMs / 1000).toFixed(1)} s`}: ${info.server}`,
      );
      console.log(table(info.components));
      console.log(`\nkubeconfig:          ${info.kubeconfigPath}`);
      console.log(`kube-state-metrics:  ${info.ksmUrl}`);
      if (info.prometheusUrl) console.log(`prometheus:          ${info.prometheusUrl}`);
      console.log(`node:                ${info.nodeName} (kwok: pods become Ready without containers)`);
      console.log(`\n  export KUBECONFIG=${info.kubeconfigPath}`);
    });
  cluster
    .command('down')
    .description('stop every process of the cluster (its objects are discarded; certificates and logs are kept)')
    .option(...dirOpt)
    .action(async (flags: { dir?: string }) => {
      let stopped: string[];
      try {
        stopped = await clusterDown({ dir: flags.dir });
      } catch (err) {
        throw asCliError(err);
      }
      console.log(stopped.length ? `stopped: ${stopped.join(', ')}` : 'no cluster was running');
    });
  cluster
    .command('status')
    .description('each component with its address, pid and health (exit code 5 unless all are healthy)')
    .option(...dirOpt)
    .option('--json', 'print as JSON')
    .action(async (flags: { dir?: string; json?: boolean }) => {
      const s = await clusterStatus({ dir: flags.dir });
      if (flags.json) console.log(JSON.stringify(s, null, 2));
      else if (!s.components.length) console.log(`no cluster in ${s.dir} (faultline cluster up)`);
      else {
        console.log(`cluster in ${s.dir}: ${s.healthy ? 'healthy' : s.running ? 'UNHEALTHY' : 'stopped'}`);
        if (s.info) console.log(`server ${s.info.server}   kubeconfig ${s.info.kubeconfigPath}`);
        console.log(table(s.components));
      }
      if (!s.healthy) process.exitCode = EXIT.unavailable;
    });
}
