import { z } from 'zod';
import { duration } from './duration';
import { BOUTIQUE_SERVICES } from './target';

/** One collected feature: a PromQL expression that yields one series (owned by activities/metrics). */
export const featureSchema = z
  .object({ name: z.string().regex(/^[a-z][a-z0-9_]*$/), query: z.string().min(1) })
  .strict();
export type FeatureDef = z.infer<typeof featureSchema>;

/**
 * Named per-service feature sets (the `service` group of `sets`):
 * - `service-level`: request rate, error rate and p95 latency from the services' own metrics, plus restarts,
 *   pod churn and ready replicas from kube-state-metrics. The local stand-in exports all of them; a stock cluster
 *   without a mesh has no request series.
 * - `stock-cluster`: what every cluster exports — per-service CPU, memory and network from cAdvisor's
 *   per-container series (summed over the service's pods through kube_pod_labels), plus restarts, pod churn and
 *   ready replicas from kube-state-metrics. The local target exports the same cAdvisor-named series.
 * Default: `stock-cluster` on `target.type: kubernetes`, `service-level` on `local` (parseCampaignConfig).
 */
export const FEATURE_SETS = ['service-level', 'stock-cluster'] as const;
export type FeatureSetName = (typeof FEATURE_SETS)[number];

/** Where the stock-cluster set finds request/error/latency series, if anywhere. */
export const REQUEST_METRICS = ['none', 'app'] as const;

/**
 * Which features to collect. The exact PromQL of every set is written down in docs/features.md and
 * produced by `resolveFeatures()` in activities/metrics/features.ts.
 */
export const featuresSchema = z
  .object({
    /** 'reference' = the reference experiment's node columns (node-exporter); 'service' = the per-service columns of `set` */
    sets: z.array(z.enum(['reference', 'service'])).default(['reference', 'service']),
    /** The per-service set; absent: chosen by the target type (see FEATURE_SETS). */
    set: z.enum(FEATURE_SETS).optional(),
    /**
     * stock-cluster only: add request rate, error rate and p95 latency per service. 'none' (default): the cluster
     * exports none (no mesh). 'app': the services' own grpc_server_* / http_requests_total series (the local
     * stand-in's, or an instrumented deployment's), the same PromQL as the service-level set. Mesh-specific names
     * (Istio, Linkerd) are not supported yet: add them as `extra` features.
     */
    requestMetrics: z.enum(REQUEST_METRICS).optional(),
    extra: z.array(featureSchema).default([]),
    /** Services (their `app` label) for the 'service' set. */
    services: z.array(z.string().regex(/^[a-z][a-z0-9-]*$/)).default([...BOUTIQUE_SERVICES]),
    /** Range of rate()/increase(); must hold at least two scrapes (4× the scrape interval is a safe choice). */
    rateWindow: duration().default('15s'),
    /** Disk devices summed by disk_read_mbps/disk_write_mbps: whole disks by pattern (no partitions, loop, zram, dm). */
    diskDevices: z.string().default('(sd|vd|xvd|hd)[a-z]+|nvme[0-9]+n[0-9]+|mmcblk[0-9]+'),
    /** Interfaces left out of net_rx_mbps/net_tx_mbps; the reference summed everything the exporter reported (veth excluded). */
    netDeviceExclude: z.string().default('veth.*'),
  })
  .strict();
export type FeatureConfig = z.infer<typeof featuresSchema>;

/** The per-service set a target gets when the config names none: what that target can be expected to export. */
export function defaultFeatureSet(targetType: 'local' | 'kubernetes'): FeatureSetName {
  return targetType === 'kubernetes' ? 'stock-cluster' : 'service-level';
}
