import { z } from 'zod';
import { duration } from './duration';
import { BOUTIQUE_SERVICES } from './target';

/** One collected feature: a PromQL expression that yields one series (owned by activities/metrics). */
export const featureSchema = z
  .object({ name: z.string().regex(/^[a-z][a-z0-9_]*$/), query: z.string().min(1) })
  .strict();
export type FeatureDef = z.infer<typeof featureSchema>;

/**
 * Which features to collect. The exact PromQL of every set is written down in docs/features.md and
 * produced by `resolveFeatures()` in activities/metrics/features.ts.
 */
export const featuresSchema = z
  .object({
    /** 'reference' = the reference experiment's node columns; 'service' = request/error/latency/restarts per service */
    sets: z.array(z.enum(['reference', 'service'])).default(['reference', 'service']),
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
