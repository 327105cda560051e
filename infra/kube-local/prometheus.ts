import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { formatDuration, parseDuration } from '../../schemas/duration';
import { NODE_EXPORTER_BIN, nodeExporterArgs } from '../local/node-exporter/node-exporter';
import { PROMETHEUS_BIN, prometheusArgs } from '../local/prometheus/prometheus';
import { httpOk } from './health';
import {
  CLUSTER_MARKER,
  OWNER_MARKER,
  checkPortsFree,
  reapMarked,
  spawnComponent,
  stopComponents,
  waitHealthy,
  type ComponentSpec,
} from './processes';

/**
 * prometheus.yml for a cluster: kube-state-metrics (honor_labels, as kube-prometheus scrapes it: the namespace,
 * pod and container labels are the objects', not the scrape target's) and, when given, a node-exporter.
 */
export function clusterPrometheusConfig(input: {
  scrapeInterval: string;
  ksmPort: number;
  nodeExporterPort?: number;
}): string {
  const ms = parseDuration(input.scrapeInterval);
  const interval = formatDuration(ms);
  return stringify({
    global: {
      scrape_interval: interval,
      scrape_timeout: formatDuration(Math.min(ms, 10_000)),
      evaluation_interval: interval,
    },
    scrape_configs: [
      {
        job_name: 'kube-state-metrics',
        honor_labels: true,
        static_configs: [{ targets: [`127.0.0.1:${input.ksmPort}`] }],
      },
      ...(input.nodeExporterPort
        ? [
            {
              job_name: 'node',
              static_configs: [{ targets: [`127.0.0.1:${input.nodeExporterPort}`], labels: { node: 'local' } }],
            },
          ]
        : []),
    ],
  });
}

/** node-exporter + Prometheus as components (the local stack's launchers: same binaries, same arguments). */
export function prometheusComponents(opts: {
  dir: string;
  configFile: string;
  prometheusPort: number;
  nodeExporterPort?: number;
  retention?: string;
}): ComponentSpec[] {
  const out: ComponentSpec[] = [];
  if (opts.nodeExporterPort) {
    const port = opts.nodeExporterPort;
    out.push({
      name: 'node-exporter',
      bin: NODE_EXPORTER_BIN,
      args: nodeExporterArgs(port),
      ports: [{ port, what: 'metrics' }],
      address: `http://127.0.0.1:${port}/metrics`,
      health: () => httpOk(`http://127.0.0.1:${port}/metrics`, { timeoutMs: 3000 }),
    });
  }
  const port = opts.prometheusPort;
  out.push({
    name: 'prometheus',
    bin: PROMETHEUS_BIN,
    args: prometheusArgs({
      configFile: opts.configFile,
      tsdbPath: path.join(opts.dir, 'prometheus'),
      port,
      retention: opts.retention ?? '1d',
    }),
    ports: [{ port, what: 'HTTP' }],
    address: `http://127.0.0.1:${port}`,
    health: () => httpOk(`http://127.0.0.1:${port}/-/ready`),
  });
  return out;
}

export interface RunningPrometheus {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  nodeExporterUrl?: string;
  dir: string;
  stop(): Promise<void>;
}

/**
 * A Prometheus of its own (fresh TSDB in `dir`) scraping a cluster's kube-state-metrics and, with
 * nodeExporterPort, a node-exporter it starts beside it. Its processes carry `dir` as their cluster marker (and
 * ownerPid), so whatever a crash leaves is found and killed like the cluster's.
 */
export async function startPrometheus(opts: {
  dir: string;
  ksmPort: number;
  prometheusPort: number;
  nodeExporterPort?: number;
  scrapeInterval?: string;
  ownerPid?: number;
  timeoutMs?: number;
}): Promise<RunningPrometheus> {
  mkdirSync(opts.dir, { recursive: true });
  const configFile = path.join(opts.dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    clusterPrometheusConfig({
      scrapeInterval: opts.scrapeInterval ?? '1s',
      ksmPort: opts.ksmPort,
      ...(opts.nodeExporterPort ? { nodeExporterPort: opts.nodeExporterPort } : {}),
    }),
  );
  const specs = prometheusComponents({
    dir: opts.dir,
    configFile,
    prometheusPort: opts.prometheusPort,
    ...(opts.nodeExporterPort ? { nodeExporterPort: opts.nodeExporterPort } : {}),
  });
  await checkPortsFree(specs, 'the Prometheus / node-exporter port');
  const markers: Record<string, string> = { [CLUSTER_MARKER]: path.resolve(opts.dir) };
  if (opts.ownerPid) markers[OWNER_MARKER] = String(opts.ownerPid);
  const started = specs.map((s) => ({ spec: s, run: spawnComponent(s, path.join(opts.dir, 'logs'), markers, '') }));
  const stop = async () => {
    await stopComponents(started.map((s) => s.run.rec));
    await reapMarked(opts.dir);
  };
  try {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    await Promise.all(started.map((s) => waitHealthy(s.spec, s.run, deadline)));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${opts.prometheusPort}`,
    port: opts.prometheusPort,
    ...(opts.nodeExporterPort ? { nodeExporterUrl: `http://127.0.0.1:${opts.nodeExporterPort}/metrics` } : {}),
    dir: opts.dir,
    stop,
  };
}
