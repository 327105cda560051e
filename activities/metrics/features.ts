import type { FeatureConfig } from '../../schemas/features';
import { formatDuration, parseDuration } from '../../schemas/duration';

/** A resolved feature: its column name, PromQL, the set it came from and what it means. */
export interface ResolvedFeature {
  name: string;
  query: string;
  set: 'reference' | 'service' | 'stock-cluster' | 'extra';
  unit: string;
  description: string;
}

const MIB = 1048576;

/** Feature names allow [a-z0-9_]; service names carry dashes (redis-cart). */
export function serviceColumn(service: string, what: string): string {
  return `svc_${service.replace(/-/g, '_')}_${what}`;
}

/**
 * The reference experiment's ten node columns as PromQL. Each reproduces the formula of the
 * reference preprocessing (data_clean_3.py) with rate() over `rateWindow` in place of the
 * reference's Δ within a tumbling 2 s window (which dropped the deltas across window edges).
 * Aggregation is over every node-exporter Prometheus scrapes (the reference had one node).
 */
export function referenceFeatures(cfg: FeatureConfig): ResolvedFeature[] {
  const r = formatDuration(parseDuration(cfg.rateWindow));
  const disk = JSON.stringify(`^(?:${cfg.diskDevices})$`).slice(1, -1);
  const netEx = JSON.stringify(cfg.netDeviceExclude).slice(1, -1);
  const load = (n: 1 | 5 | 15): ResolvedFeature => ({
    name: `node_load${n}`,
    query: `avg(node_load${n})`,
    set: 'reference',
    unit: 'load',
    description: `${n}-minute load average (mean over nodes)`,
  });
  return [
    load(1),
    load(5),
    load(15),
    {
      name: 'cpu_util',
      query: `1 - sum(rate(node_cpu_seconds_total{mode="idle"}[${r}])) / sum(rate(node_cpu_seconds_total[${r}]))`,
      set: 'reference',
      unit: 'ratio',
      description: '1 − idle CPU seconds / all CPU seconds, summed over CPUs and modes',
    },
    {
      name: 'mem_util',
      query: '1 - sum(node_memory_MemAvailable_bytes) / sum(node_memory_MemTotal_bytes)',
      set: 'reference',
      unit: 'ratio',
      description: '1 − MemAvailable / MemTotal',
    },
    {
      name: 'disk_read_mbps',
      query: `sum(rate(node_disk_read_bytes_total{device=~"${disk}"}[${r}])) / ${MIB}`,
      set: 'reference',
      unit: 'MiB/s',
      description: `bytes read per second / 1024², summed over whole disks matching ${cfg.diskDevices}`,
    },
    {
      name: 'disk_write_mbps',
      query: `sum(rate(node_disk_written_bytes_total{device=~"${disk}"}[${r}])) / ${MIB}`,
      set: 'reference',
      unit: 'MiB/s',
      description: `bytes written per second / 1024², summed over whole disks matching ${cfg.diskDevices}`,
    },
    {
      name: 'net_rx_mbps',
      query: `sum(rate(node_network_receive_bytes_total{device!~"${netEx}"}[${r}])) / ${MIB}`,
      set: 'reference',
      unit: 'MiB/s',
      description: `bytes received per second / 1024², summed over interfaces except ${cfg.netDeviceExclude}`,
    },
    {
      name: 'net_tx_mbps',
      query: `sum(rate(node_network_transmit_bytes_total{device!~"${netEx}"}[${r}])) / ${MIB}`,
      set: 'reference',
      unit: 'MiB/s',
      description: `bytes sent per second / 1024², summed over interfaces except ${cfg.netDeviceExclude}`,
    },
    {
      name: 'fs_util',
      query: '1 - sum(node_filesystem_avail_bytes) / sum(node_filesystem_size_bytes)',
      set: 'reference',
      unit: 'ratio',
      description: '1 − Σ avail / Σ size over all mounted filesystems',
    },
  ];
}

/** kube-state-metrics' pod → app join: real kube-state-metrics carries `label_app` only on kube_pod_labels. */
function appJoin(service: string): string {
  return `on(namespace, pod) group_left(label_app) kube_pod_labels{label_app="${service}"}`;
}

/**
 * An empty per-service result reads 0 only where the source is there at all: kube-state-metrics exports pods
 * with an `app` label (a cluster whose kube-state-metrics lacks --metric-labels-allowlist=pods=[app] has none),
 * cAdvisor exports containers. Otherwise the column stays empty and cleaning drops it, reported, instead of
 * a column of invented zeros.
 */
const KSM_PRESENT = 'count(kube_pod_labels{label_app!=""})';

/**
 * Request side of the service-level set: the frontend speaks HTTP, the other services gRPC, so each query adds
 * both families (a service exports only one of them). Counts over a service with no live pod are 0
 * (`or vector(0)`): an empty sum over pods is an observation, not a gap. Latency with no completed request in
 * the window is 0 as well (see below).
 */
function requestFeatures(s: string, r: string): ResolvedFeature[] {
  const app = `app="${s}"`;
  return [
    {
      name: serviceColumn(s, 'request_rate'),
      query:
        `(sum(rate(grpc_server_handled_total{${app}}[${r}])) or sum(rate(http_requests_total{${app}}[${r}])))` +
        ' or vector(0)',
      set: 'service',
      unit: 'req/s',
      description: `${s}: requests completed per second (gRPC handled or HTTP requests)`,
    },
    {
      name: serviceColumn(s, 'error_rate'),
      query:
        `(sum(rate(grpc_server_handled_total{${app},grpc_code!="OK"}[${r}]))` +
        ` or sum(rate(http_requests_total{${app},code=~"5.."}[${r}])))` +
        ' or vector(0)',
      set: 'service',
      unit: 'err/s',
      description: `${s}: failed requests per second (gRPC code ≠ OK, HTTP 5xx)`,
    },
    {
      name: serviceColumn(s, 'latency_p95'),
      // histogram_quantile is NaN when no request completed in the window (a quiet service, or every
      // pod down): `>= 0` drops the NaN and the value becomes 0, next to a request_rate of 0 that says
      // why. A gap here would otherwise fail cleaning exactly when a fault makes the data interesting.
      query:
        `(histogram_quantile(0.95, sum by (le) (rate(grpc_server_handling_seconds_bucket{${app}}[${r}]))) >= 0)` +
        ` or (histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{${app}}[${r}]))) >= 0)` +
        ' or vector(0)',
      set: 'service',
      unit: 's',
      description: `${s}: 95th percentile of request duration (0 while no request completes)`,
    },
  ];
}

/**
 * The service as its clients see it (with `requestMetrics: app`): a delay or loss on a service's network holds
 * its replies after its own request histogram has stopped the clock, so only its callers' timings show it.
 * gRPC services: the callers' go-grpc-prometheus client metrics (grpc_client_handling_seconds, _handled_total)
 * for calls to the service (Online Boutique's gRPC service names are the app names, case aside); an HTTP
 * service: the timings and status codes of its Service proxy (locally the supervisor's; absent on a cluster,
 * where the column stays 0). `client_p95` is 0 while no call completes, as latency_p95 is.
 */
function clientSideFeatures(s: string, r: string): ResolvedFeature[] {
  const grpcSvc = `grpc_service=~"(?i)hipstershop\\\\.${s.replace(/-/g, '')}"`;
  return [
    {
      name: serviceColumn(s, 'client_p95'),
      query:
        `(histogram_quantile(0.95, sum by (le) (rate(grpc_client_handling_seconds_bucket{${grpcSvc}}[${r}]))) >= 0)` +
        ` or (histogram_quantile(0.95, sum by (le) (rate(faultline_proxy_http_request_duration_seconds_bucket{app="${s}"}[${r}]))) >= 0)` +
        ' or vector(0)',
      set: 'stock-cluster',
      unit: 's',
      description: `${s}: 95th percentile of the duration of calls to it, as its callers time them (0 while none completes)`,
    },
    {
      name: serviceColumn(s, 'client_errors'),
      query:
        `(sum(rate(grpc_client_handled_total{${grpcSvc},grpc_code!="OK"}[${r}]))` +
        ` or sum(rate(faultline_proxy_http_responses_total{app="${s}",code=~"5.."}[${r}])))` +
        ' or vector(0)',
      set: 'stock-cluster',
      unit: 'err/s',
      description: `${s}: calls to it that failed per second, as its callers see them (gRPC code ≠ OK, HTTP 5xx)`,
    },
  ];
}

/** Restarts, pod churn and readiness: kube-state-metrics series, names and labels as kube-state-metrics 2.x has them. */
function kubeStateFeatures(s: string, r: string, rSeconds: number, set: ResolvedFeature['set']): ResolvedFeature[] {
  return [
    {
      // kube_pod_container_status_restarts_total has {namespace,pod,uid,container}: the app comes from the join
      name: serviceColumn(s, 'restarts'),
      query: `sum(increase(kube_pod_container_status_restarts_total[${r}]) * ${appJoin(s)}) or 0 * ${KSM_PRESENT}`,
      set,
      unit: 'restarts',
      description: `${s}: container restarts within the last ${r}`,
    },
    {
      // Restart counts stay 0 when a pod is replaced (a pod kill makes a new pod); pod churn does not.
      name: serviceColumn(s, 'pods_created'),
      query: `count((kube_pod_created * ${appJoin(s)}) > (time() - ${rSeconds})) or 0 * ${KSM_PRESENT}`,
      set,
      unit: 'pods',
      description: `${s}: pods created within the last ${r} (replacements after a kill, rollouts, scale-ups)`,
    },
    {
      name: serviceColumn(s, 'ready_replicas'),
      query: `sum(kube_deployment_status_replicas_available{deployment="${s}"}) or vector(0)`,
      set,
      unit: 'pods',
      description: `${s}: available replicas of the deployment`,
    },
  ];
}

/** Per-service features of the service-level set: request side + kube-state-metrics. */
export function serviceFeatures(cfg: FeatureConfig): ResolvedFeature[] {
  const rMs = parseDuration(cfg.rateWindow);
  const r = formatDuration(rMs);
  return cfg.services.flatMap((s) => [...requestFeatures(s, r), ...kubeStateFeatures(s, r, rMs / 1000, 'service')]);
}

/** cAdvisor's app containers: pod-level (container="") and pause-container ("POD") rows would count twice. */
const APP_CONTAINERS = 'container!="",container!="POD"';
const KIB = 1024;

/**
 * The stock-cluster set: per service, what every cluster exports without a mesh. cAdvisor's per-container
 * series (kubelet /metrics/cadvisor; the local supervisor exports the same names from its pods' cgroups) summed
 * over the service's pods through kube_pod_labels, and kube-state-metrics' restarts, churn and readiness.
 * With `requestMetrics: app` the service-level request/error/latency columns join.
 */
export function stockClusterFeatures(cfg: FeatureConfig): ResolvedFeature[] {
  const rMs = parseDuration(cfg.rateWindow);
  const r = formatDuration(rMs);
  const out: ResolvedFeature[] = [];
  for (const s of cfg.services) {
    const join = appJoin(s);
    // Network counters: per pod and interface, whichever row carries them (the pod cgroup, container="", on
    // containerd; the pause container, "POD", on Docker) — max by interface counts each pod's interface once.
    const net = (metric: string) =>
      `sum(max by (namespace, pod, interface) (rate(${metric}{interface!="lo"}[${r}])) * ${join}) / ${KIB}` +
      ` or 0 * count(${metric})`;
    out.push(
      {
        name: serviceColumn(s, 'cpu'),
        query:
          `sum(rate(container_cpu_usage_seconds_total{${APP_CONTAINERS}}[${r}]) * ${join})` +
          ` or 0 * count(container_cpu_usage_seconds_total{${APP_CONTAINERS}})`,
        set: 'stock-cluster',
        unit: 'cores',
        description: `${s}: CPU seconds per second of its containers (cAdvisor), summed over its pods`,
      },
      {
        name: serviceColumn(s, 'mem'),
        query:
          `sum(container_memory_working_set_bytes{${APP_CONTAINERS}} * ${join}) / ${MIB}` +
          ` or 0 * count(container_memory_working_set_bytes{${APP_CONTAINERS}})`,
        set: 'stock-cluster',
        unit: 'MiB',
        description: `${s}: working set of its containers (cAdvisor: usage − inactive file), summed over its pods`,
      },
      {
        name: serviceColumn(s, 'net_rx'),
        query: net('container_network_receive_bytes_total'),
        set: 'stock-cluster',
        unit: 'KiB/s',
        description: `${s}: bytes received per second by its pods (cAdvisor) / 1024`,
      },
      {
        name: serviceColumn(s, 'net_tx'),
        query: net('container_network_transmit_bytes_total'),
        set: 'stock-cluster',
        unit: 'KiB/s',
        description: `${s}: bytes sent per second by its pods (cAdvisor) / 1024`,
      },
      ...kubeStateFeatures(s, r, rMs / 1000, 'stock-cluster'),
    );
    if (cfg.requestMetrics === 'app')
      out.push(
        ...requestFeatures(s, r).map((f) => ({ ...f, set: 'stock-cluster' as const })),
        ...clientSideFeatures(s, r),
      );
  }
  return out;
}

/** Every feature the config asks for, in a stable order; fails on duplicate names. */
export function resolveFeatures(cfg: FeatureConfig): ResolvedFeature[] {
  const out: ResolvedFeature[] = [];
  if (cfg.sets.includes('reference')) out.push(...referenceFeatures(cfg));
  if (cfg.sets.includes('service')) {
    out.push(...((cfg.set ?? 'service-level') === 'stock-cluster' ? stockClusterFeatures(cfg) : serviceFeatures(cfg)));
  }
  for (const f of cfg.extra) out.push({ ...f, set: 'extra', unit: '', description: 'configured extra feature' });
  const seen = new Set<string>();
  for (const f of out) {
    if (seen.has(f.name)) throw new Error(`feature "${f.name}" is defined twice (check features.extra)`);
    seen.add(f.name);
  }
  return out;
}
