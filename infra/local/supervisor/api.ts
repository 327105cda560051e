/**
 * The local supervisor's HTTP API (JSON), the contract between the supervisor (infra/local/supervisor),
 * the local Target (activities/deploy) and the local fault injectors (activities/chaos).
 * The supervisor is a long-lived process that owns the pod processes: it survives worker crashes.
 *
 *   GET    /healthz                          → 200 "ok"
 *   GET    /pods?selector=app%3Dcartservice   → PodInfo[]   (selector: comma-separated k=v, all must match)
 *   GET    /pods/:name                       → PodInfo | 404
 *   POST   /pods/:name/kill    {signal?: 'SIGKILL'|'SIGTERM'}      → { killed: PodInfo }   (pod-kill)
 *   POST   /pods/:name/hold    {faultId, untilMs}                  → 200   kill and keep the pod down until untilMs
 *                                                                         (pod-failure; released early by DELETE)
 *   DELETE /pods/:name/hold/:faultId                              → 200   release (restart allowed again)
 *   POST   /pods/:name/restart                                    → { restarted: PodInfo }   (container-kill: SIGKILL
 *                                                                         the container and start it again in the same
 *                                                                         pod — name, uid, cgroup kept — restarts + 1;
 *                                                                         409 when the pod has no running container)
 *   PUT    /pods/:name/memory-leak/:faultId  {sizeBytes, durationMs, untilMs}  → MemoryLeakEntry   (memory-leak: the
 *                                                                         pod's own process allocates linearly to
 *                                                                         sizeBytes over durationMs, frees at untilMs by
 *                                                                         itself; idempotent by faultId; 409 for a pod
 *                                                                         whose process cannot, e.g. not a boutique one)
 *   DELETE /pods/:name/memory-leak/:faultId                       → { removed }   free now (200 also when absent)
 *   GET    /memory-leaks                                          → MemoryLeakEntry[]   the active ones
 *   POST   /pods/:name/signal  {signal: 'SIGSTOP'|'SIGCONT'}       → 200
 *   GET    /pods/:name/pid                                        → { pid, cgroups? }  (the pod's cgroup dirs: stress
 *                                                                         faults run inside them)
 *   GET    /cgroups                                               → { ok, bases, idBase } | { ok: false, reason }
 *   PUT    /proxy/:app/faults/:faultId   ProxyFault               → 200   idempotent by faultId
 *   DELETE /proxy/:app/faults/:faultId                            → 200   idempotent (200 also when absent)
 *   GET    /proxy/faults                                          → (ProxyFault & {app, faultId})[]
 *   GET    /metrics                                              → kube-state-metrics 2.x series with its label sets
 *          (kube_pod_labels{namespace,pod,uid,label_app}, kube_pod_created, kube_pod_status_ready{…,condition},
 *          kube_pod_status_phase, kube_pod_container_status_restarts_total{namespace,pod,uid,container},
 *          kube_pod_container_status_waiting_reason, kube_deployment_spec_replicas /
 *          kube_deployment_status_replicas_available{namespace,deployment}); cAdvisor's per-container series
 *          (container_cpu_usage_seconds_total, container_memory_working_set_bytes, container_memory_usage_bytes,
 *          container_network_{receive,transmit}_bytes_total; labels namespace, pod, container, image, name, id);
 *          faultline_proxy_active_faults{app,kind}, faultline_memory_leak_bytes{app,pod}, faultline_app_restarts_total{app},
 *          faultline_proxy_connections_total{app}, faultline_proxy_no_endpoint_total{app},
 *          faultline_proxy_http_responses_total{app,code}. See README.md.
 *   GET    /sd/pods                                              → Prometheus http_sd target groups, one per running pod,
 *                                                                         labels {pod, app, namespace}
 *
 * Every service sits behind a fault proxy on its public (Service) port; the pods listen on internal ports.
 * Proxy faults apply to connections to `app` (like a NetworkChaos/HTTPChaos on that app's pods), through its
 * Service port and through every caller's own route to it (AppSpec.routes); a `partition` applies to one caller's
 * route only.
 */
export interface ProxyFault {
  kind: 'delay' | 'loss' | 'http-abort' | 'http-delay' | 'bandwidth' | 'partition';
  /** delay / http-delay: added latency */
  latencyMs?: number;
  jitterMs?: number;
  /** loss: share of data chunks dropped-and-retransmitted (0..100); http-*: share of requests affected */
  percent?: number;
  /** http-abort: the status code returned (default 503) */
  statusCode?: number;
  /**
   * bandwidth: the rate (bytes per second) the pod's egress (pod → caller, like Chaos Mesh's tbf on the target's
   * interface) is shaped to, by a token bucket shared by every connection to that pod.
   */
  rateBytesPerSec?: number;
  /** bandwidth: the bucket size (burst) in bytes (tbf `buffer`; default 16 KiB). */
  bufferBytes?: number;
  /**
   * bandwidth: bytes the proxy queues per connection waiting for tokens (tbf `limit`; default 1 MiB). Beyond it
   * the proxy stops reading from the pod (TCP flow control) instead of dropping: the pod's sender blocks.
   */
  limitBytes?: number;
  /**
   * partition: the caller app whose route to this app is black-holed (Chaos Mesh NetworkChaos partition with
   * `target` = the caller). Only the caller's own route (AppSpec.routes) is cut; other callers pass.
   */
  from?: string;
  /**
   * Optional: only traffic to these pods (names) is affected, like a NetworkChaos/HTTPChaos whose selector picked
   * some of the app's pods (mode one/fixed/...). Absent: every pod of the app.
   */
  pods?: string[];
  /** The proxy drops the fault by itself after this time (a worker crash cannot leave it forever). */
  expiresAtMs: number;
}

/** An active memory-leak fault (GET /memory-leaks; PUT answers one). bytesNow: what it has grown to by now. */
export interface MemoryLeakEntry {
  pod: string;
  app?: string;
  faultId: string;
  sizeBytes: number;
  durationMs: number;
  startedAtMs: number;
  untilMs: number;
  bytesNow?: number;
}

export type { PodInfo } from '../../../activities/deploy/types';
