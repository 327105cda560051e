import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FaultTable } from '../proxy/faults';
import type { ProxyMetrics } from '../proxy/endpoints';
import type { PodManager } from './pods';
import type { SupervisorConfig } from './config';
import { readPodUsage } from './cgroups';

/** Every Online Boutique container is named `server`; the local pods' one process stands for it. */
const CONTAINER = 'server';

/** kube-state-metrics-like series for the local pods, plus the fault proxies' own counters. */
export class SupervisorMetrics implements ProxyMetrics {
  readonly registry = new Registry();
  private readonly appRestarts: Counter<'app'>;
  private readonly connections: Counter<'app'>;
  private readonly noEndpoints: Counter<'app'>;
  private readonly httpResponses: Counter<'app' | 'code'>;
  private readonly httpDurations: Histogram<'app'>;
  /** Bytes through each pod's Service proxy: the pod's network receive/transmit (see the cAdvisor series). */
  private readonly podNet = new Map<string, { rx: number; tx: number }>();

  constructor(config: SupervisorConfig, pods: () => PodManager | undefined, faults: FaultTable) {
    const r = this.registry;
    const ns = config.namespace;
    // kube-state-metrics 2.x series, with exactly its label sets: pods are identified by (namespace, pod, uid)
    // and carry no `app` label; queries join kube_pod_labels on (namespace, pod) for the app, as they must on a
    // cluster (there, kube-state-metrics has to run with --metric-labels-allowlist=pods=[app] for label_app).
    new Gauge({
      name: 'kube_pod_container_status_restarts_total',
      help: 'The number of container restarts per container (carried over to replacement pods of the same replica slot).',
      labelNames: ['namespace', 'pod', 'uid', 'container'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of pods()?.pods() ?? []) {
          this.set({ namespace: ns, pod: p.name, uid: p.uid, container: CONTAINER }, p.restarts);
        }
      },
    });
    new Gauge({
      name: 'kube_pod_status_ready',
      help: 'Describes whether the pod is ready to serve requests.',
      labelNames: ['namespace', 'pod', 'uid', 'condition'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of pods()?.pods() ?? []) {
          const l = { namespace: ns, pod: p.name, uid: p.uid };
          this.set({ ...l, condition: 'true' }, p.ready ? 1 : 0);
          this.set({ ...l, condition: 'false' }, p.ready ? 0 : 1);
          this.set({ ...l, condition: 'unknown' }, 0);
        }
      },
    });
    // A pod kill shows as a new pod created, whatever its restart count.
    new Gauge({
      name: 'kube_pod_created',
      help: 'Unix creation timestamp',
      labelNames: ['namespace', 'pod', 'uid'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of pods()?.pods() ?? []) {
          if (p.createdAtMs !== undefined) this.set({ namespace: ns, pod: p.name, uid: p.uid }, p.createdAtMs / 1000);
        }
      },
    });
    new Gauge({
      name: 'kube_pod_labels',
      help: 'Kubernetes labels converted to Prometheus labels.',
      labelNames: ['namespace', 'pod', 'uid', 'label_app'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of pods()?.pods() ?? []) {
          this.set({ namespace: ns, pod: p.name, uid: p.uid, label_app: p.labels.app ?? '' }, 1);
        }
      },
    });
    new Gauge({
      name: 'kube_pod_status_phase',
      help: 'The pods current phase.',
      labelNames: ['namespace', 'pod', 'uid', 'phase'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of pods()?.pods() ?? []) {
          for (const phase of ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']) {
            this.set({ namespace: ns, pod: p.name, uid: p.uid, phase }, p.phase === phase ? 1 : 0);
          }
        }
      },
    });
    new Gauge({
      name: 'kube_pod_container_status_waiting_reason',
      help: 'Describes the reason the container is currently in waiting state (CrashLoopBackOff, ContainerCreating; PodFailure is ours).',
      labelNames: ['namespace', 'pod', 'uid', 'container', 'reason'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of pods()?.pods() ?? []) {
          if (p.reason) this.set({ namespace: ns, pod: p.name, uid: p.uid, container: CONTAINER, reason: p.reason }, 1);
        }
      },
    });
    this.cadvisorSeries(config, pods);
    new Gauge({
      name: 'kube_deployment_spec_replicas',
      help: 'Desired replicas.',
      labelNames: ['namespace', 'deployment'],
      registers: [r],
      collect() {
        this.reset();
        for (const a of config.apps) this.set({ namespace: ns, deployment: a.app }, a.replicas);
      },
    });
    new Gauge({
      name: 'kube_deployment_status_replicas_available',
      help: 'Ready replicas.',
      labelNames: ['namespace', 'deployment'],
      registers: [r],
      collect() {
        this.reset();
        const all = pods()?.pods() ?? [];
        for (const a of config.apps) {
          this.set({ namespace: ns, deployment: a.app }, all.filter((p) => p.labels.app === a.app && p.ready).length);
        }
      },
    });
    new Gauge({
      name: 'faultline_proxy_active_faults',
      help: 'Active proxy faults per app and kind.',
      labelNames: ['app', 'kind'],
      registers: [r],
      collect() {
        this.reset();
        for (const a of config.apps) {
          for (const kind of ['delay', 'loss', 'http-abort', 'http-delay', 'bandwidth', 'partition']) {
            this.set({ app: a.app, kind }, 0);
          }
        }
        for (const f of faults.list()) this.inc({ app: f.app, kind: f.kind });
      },
    });
    new Gauge({
      name: 'faultline_memory_leak_bytes',
      help: 'Bytes the active memory-leak faults have grown to by now, per pod (planned; the pod allocates them).',
      labelNames: ['app', 'pod'],
      registers: [r],
      collect() {
        this.reset();
        for (const l of pods()?.leaks() ?? []) this.inc({ app: l.app, pod: l.pod }, l.bytesNow);
      },
    });
    this.appRestarts = new Counter({
      name: 'faultline_app_restarts_total',
      help: 'Pod restarts per app (monotonic across pod replacements).',
      labelNames: ['app'],
      registers: [r],
    });
    this.connections = new Counter({
      name: 'faultline_proxy_connections_total',
      help: 'Connections accepted by the Service proxy.',
      labelNames: ['app'],
      registers: [r],
    });
    this.noEndpoints = new Counter({
      name: 'faultline_proxy_no_endpoint_total',
      help: 'Connections or requests refused because no pod was ready.',
      labelNames: ['app'],
      registers: [r],
    });
    this.httpResponses = new Counter({
      name: 'faultline_proxy_http_responses_total',
      help: 'HTTP responses leaving the Service proxy, by status code.',
      labelNames: ['app', 'code'],
      registers: [r],
    });
    this.httpDurations = new Histogram({
      name: 'faultline_proxy_http_request_duration_seconds',
      help: 'HTTP request latency (seconds) through the Service proxy, as the client sees it (faults included).',
      labelNames: ['app'],
      // the services' own buckets (infra/local/boutique/metrics.ts)
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [r],
    });
    for (const a of config.apps) {
      this.appRestarts.inc({ app: a.app }, 0);
      this.connections.inc({ app: a.app }, 0);
      this.noEndpoints.inc({ app: a.app }, 0);
    }
  }

  /**
   * cAdvisor's per-container series as the kubelet serves them (/metrics/cadvisor), for the local pods:
   * CPU and memory read from each pod's own cgroup (cgroups.ts); labels namespace, pod, container, image, name
   * and id (the cgroup path), `cpu="total"` on the CPU counter, `interface` on the network counters.
   * Network: the local pods share the host's network namespace, so there is no per-pod interface to read.
   * The bytes are counted at the fault proxy in front of each service instead: receive = bytes clients sent
   * to the pod, transmit = bytes the pod sent back. A pod's own calls to other services are counted at
   * theirs, not as its traffic (on a cluster its interface would carry both directions of those too).
   * A pod without a cgroup (cgroups unavailable, or the pod not running) has no CPU/memory series at all.
   */
  private cadvisorSeries(config: SupervisorConfig, pods: () => PodManager | undefined): void {
    const r = this.registry;
    const ns = config.namespace;
    const images = new Map(config.apps.map((a) => [a.app, a.image ?? `faultline.local/${a.app}:local`]));
    const base = (p: { info: { name: string; uid: string; restarts: number; labels: Record<string, string> } }) => {
      const app = p.info.labels.app ?? '';
      return {
        namespace: ns,
        pod: p.info.name,
        container: CONTAINER,
        image: images.get(app) ?? '',
        // the Docker-era runtime name cAdvisor reports: k8s_<container>_<pod>_<namespace>_<uid>_<attempt>
        name: `k8s_${CONTAINER}_${p.info.name}_${ns}_${p.info.uid}_${p.info.restarts}`,
      };
    };
    // one read of the cgroup files per scrape, shared by the three series that use it
    let cache: { at: number; rows: ReturnType<typeof read> } | undefined;
    const measured = () => {
      const now = Date.now();
      if (!cache || now - cache.at > 200) cache = { at: now, rows: read() };
      return cache.rows;
    };
    const read = () => {
      const pm = pods();
      const cg = pm?.cgroups;
      if (!pm || !cg?.ok) return [];
      return pm.podDetails().flatMap((d) => {
        if (d.pid === undefined || !d.cgroupDirs) return [];
        const usage = readPodUsage(cg.bases, d.info.name);
        return usage ? [{ d, usage, id: `${cg.idBase}/${d.info.name}` }] : [];
      });
    };
    new Gauge({
      name: 'container_cpu_usage_seconds_total',
      help: 'Cumulative cpu time consumed in seconds.',
      labelNames: ['namespace', 'pod', 'container', 'image', 'name', 'id', 'cpu'],
      registers: [r],
      collect() {
        this.reset();
        for (const { d, usage, id } of measured()) this.set({ ...base(d), id, cpu: 'total' }, usage.cpuSeconds);
      },
    });
    const memory = (
      name: string,
      help: string,
      pick: (u: { memoryUsageBytes: number; workingSetBytes: number }) => number,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ['namespace', 'pod', 'container', 'image', 'name', 'id'],
        registers: [r],
        collect() {
          this.reset();
          for (const { d, usage, id } of measured()) this.set({ ...base(d), id }, pick(usage));
        },
      });
    memory('container_memory_working_set_bytes', 'Current working set in bytes.', (u) => u.workingSetBytes);
    memory(
      'container_memory_usage_bytes',
      'Current memory usage in bytes, including all memory regardless of when it was accessed',
      (u) => u.memoryUsageBytes,
    );
    const net = this.podNet;
    const network = (name: string, help: string, dir: 'rx' | 'tx') =>
      new Gauge({
        name,
        help,
        labelNames: ['namespace', 'pod', 'container', 'image', 'name', 'interface'],
        registers: [r],
        collect() {
          this.reset();
          const live = pods()?.podDetails() ?? [];
          const names = new Set(live.map((d) => d.info.name));
          for (const k of net.keys()) if (!names.has(k)) net.delete(k); // a deleted pod's series ends, as with cAdvisor
          for (const d of live) {
            if (d.pid === undefined) continue;
            this.set({ ...base(d), interface: 'eth0' }, net.get(d.info.name)?.[dir] ?? 0);
          }
        },
      });
    network('container_network_receive_bytes_total', 'Cumulative count of bytes received', 'rx');
    network('container_network_transmit_bytes_total', 'Cumulative count of bytes transmitted', 'tx');
  }

  /** Bytes through a pod's Service proxy: rx = towards the pod, tx = from it. */
  podBytes(pod: string | undefined, rx: number, tx: number): void {
    if (!pod) return;
    let e = this.podNet.get(pod);
    if (!e) {
      e = { rx: 0, tx: 0 };
      this.podNet.set(pod, e);
    }
    e.rx += rx;
    e.tx += tx;
  }

  restart(app: string): void {
    this.appRestarts.inc({ app });
  }
  connection(app: string): void {
    this.connections.inc({ app });
  }
  noEndpoint(app: string): void {
    this.noEndpoints.inc({ app });
  }
  httpResponse(app: string, code: number): void {
    this.httpResponses.inc({ app, code: String(code) });
  }
  httpDuration(app: string, seconds: number): void {
    this.httpDurations.observe({ app }, seconds);
  }
}
