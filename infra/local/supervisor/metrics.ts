import { Counter, Gauge, Registry } from 'prom-client';
import type { FaultTable } from '../proxy/faults';
import type { ProxyMetrics } from '../proxy/endpoints';
import type { PodManager } from './pods';
import type { SupervisorConfig } from './config';

/** kube-state-metrics-like series for the local pods, plus the fault proxies' own counters. */
export class SupervisorMetrics implements ProxyMetrics {
  readonly registry = new Registry();
  private readonly appRestarts: Counter<'app'>;
  private readonly connections: Counter<'app'>;
  private readonly noEndpoints: Counter<'app'>;
  private readonly httpResponses: Counter<'app' | 'code'>;

  constructor(config: SupervisorConfig, pods: () => PodManager | undefined, faults: FaultTable) {
    const r = this.registry;
    const ns = config.namespace;
    new Gauge({
      name: 'kube_pod_container_status_restarts_total',
      help: 'Container restarts of the pod (carried over to replacement pods of the same replica slot).',
      labelNames: ['namespace', 'pod', 'app', 'container'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of pods()?.pods() ?? []) {
          this.set({ namespace: ns, pod: p.name, app: p.labels.app ?? '', container: 'server' }, p.restarts);
        }
      },
    });
    new Gauge({
      name: 'kube_pod_status_ready',
      help: 'Whether the pod passes its readiness probe.',
      labelNames: ['namespace', 'pod', 'app', 'condition'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of pods()?.pods() ?? []) {
          const l = { namespace: ns, pod: p.name, app: p.labels.app ?? '' };
          this.set({ ...l, condition: 'true' }, p.ready ? 1 : 0);
          this.set({ ...l, condition: 'false' }, p.ready ? 0 : 1);
        }
      },
    });
    // kube-state-metrics' pod identity series: creation time (seconds) and the pod's labels, joined on
    // (namespace, pod) in queries. A pod kill shows as a new pod created, whatever its restart count.
    new Gauge({
      name: 'kube_pod_created',
      help: 'Unix creation timestamp of the pod.',
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
      help: 'The pod phase.',
      labelNames: ['namespace', 'pod', 'app', 'phase'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of pods()?.pods() ?? []) {
          for (const phase of ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']) {
            this.set({ namespace: ns, pod: p.name, app: p.labels.app ?? '', phase }, p.phase === phase ? 1 : 0);
          }
        }
      },
    });
    new Gauge({
      name: 'kube_pod_container_status_waiting_reason',
      help: 'The reason the pod container is waiting (CrashLoopBackOff, ContainerCreating, PodFailure).',
      labelNames: ['namespace', 'pod', 'app', 'reason'],
      registers: [r],
      collect() {
        this.reset();
        for (const p of pods()?.pods() ?? []) {
          if (p.reason) this.set({ namespace: ns, pod: p.name, app: p.labels.app ?? '', reason: p.reason }, 1);
        }
      },
    });
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
          for (const kind of ['delay', 'loss', 'http-abort', 'http-delay']) this.set({ app: a.app, kind }, 0);
        }
        for (const f of faults.list()) this.inc({ app: f.app, kind: f.kind });
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
    for (const a of config.apps) {
      this.appRestarts.inc({ app: a.app }, 0);
      this.connections.inc({ app: a.app }, 0);
      this.noEndpoints.inc({ app: a.app }, 0);
    }
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
}
