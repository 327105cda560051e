/**
 * Which service owns a series. Per-service columns are `svc_<service>_<what>` (docs/features.md;
 * dashes in the app name become underscores); node-level columns (cpu_util, node_load1, …) belong
 * to no service and are left out of every ranking: they would be scored as wrong candidates.
 */

/** The per-service metric suffixes the feature sets produce (longest first, so net_rx wins over rx). */
export const SERVICE_METRICS = [
  'ready_replicas',
  'pods_created',
  'request_rate',
  'error_rate',
  'latency_p95',
  'client_p95',
  'client_errors',
  'restarts',
  'net_rx',
  'net_tx',
  'cpu',
  'mem',
] as const;

/** The column-name form of an app label (as the feature sets write it). */
export function serviceKey(app: string): string {
  return app.replace(/-/g, '_');
}

/** { service, metric } of a per-service column, or null for a node-level (or unknown) one. */
export function seriesOwner(column: string): { service: string; metric: string } | null {
  if (!column.startsWith('svc_')) return null;
  const rest = column.slice(4);
  for (const m of SERVICE_METRICS) {
    if (rest.endsWith(`_${m}`) && rest.length > m.length + 1) {
      return { service: rest.slice(0, rest.length - m.length - 1), metric: m };
    }
  }
  return null;
}

/** The services that own at least one of `columns`, sorted (the candidate set every ranker ranks). */
export function candidateServices(columns: readonly string[]): string[] {
  const s = new Set<string>();
  for (const c of columns) {
    const o = seriesOwner(c);
    if (o) s.add(o.service);
  }
  return [...s].sort();
}
