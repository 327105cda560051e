import { z } from 'zod';
import { duration } from './duration';

/**
 * The ten Online Boutique application services (upstream names, `app=<name>` labels); the cart's Redis runs
 * beside them. Upstream's eleventh Deployment, loadgenerator, is left out: the traffic activities do its job.
 */
export const BOUTIQUE_SERVICES = [
  'frontend',
  'productcatalogservice',
  'currencyservice',
  'cartservice',
  'recommendationservice',
  'shippingservice',
  'checkoutservice',
  'paymentservice',
  'emailservice',
  'adservice',
] as const;
export type BoutiqueService = (typeof BOUTIQUE_SERVICES)[number];

/** Local target: the boutique stand-in as OS processes under our supervisor, plus the metrics stack. */
export const localTargetSchema = z
  .object({
    type: z.literal('local'),
    /** Public (Service) ports are basePort + a fixed offset per service; see infra/local/ports.ts. */
    basePort: z.number().int().min(1024).max(60000).default(18000),
    replicas: z.partialRecord(z.enum(BOUTIQUE_SERVICES), z.number().int().min(1).max(5)).default({}),
    readinessTimeout: duration().default('60s'),
    prometheus: z
      .object({
        port: z.number().int().min(1024).max(65535).default(19090),
        scrapeInterval: duration().default('1s'),
        retention: duration().default('15d'),
      })
      .prefault({}),
    nodeExporterPort: z.number().int().min(1024).max(65535).default(19100),
    supervisorPort: z.number().int().min(1024).max(65535).default(19400),
    redisPort: z.number().int().min(1024).max(65535).default(19379),
  })
  .strict();

/** Kubernetes target: upstream manifest + Chaos Mesh + the cluster's Prometheus. */
export const kubernetesTargetSchema = z
  .object({
    type: z.literal('kubernetes'),
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label such as "boutique"'),
    kubeconfig: z.string().optional(),
    context: z.string().optional(),
    /** Path to the manifest to apply; default: the upstream Online Boutique release manifest. */
    manifest: z.string().optional(),
    prometheusUrl: z.url(),
    frontendUrl: z.url().optional(),
    allowedNamespaces: z.array(z.string()).min(1).optional(),
    rolloutTimeout: duration().default('10m'),
    /** Deploy fails early unless the Chaos Mesh CRDs are served (default true); false for campaigns without faults. */
    requireChaosMesh: z.boolean().optional(),
    /**
     * Automatic port-forward (default true). When frontendUrl or prometheusUrl name a cluster-internal Service
     * (`<svc>.<ns>.svc[.cluster.local]`, a bare `<svc>`; the default frontendUrl is the frontend Service) that
     * this machine cannot reach (faultline runs on a laptop, not in a pod), faultline port-forwards to that Service
     * through the API server itself, like `kubectl port-forward service/<svc>`, and logs that it did. Needs `get`
     * on services, `list` on pods and `get`+`create` on pods/portforward in the Service's namespace. false: the URLs
     * are used exactly as given.
     */
    portForward: z
      .boolean({
        error:
          'target.portForward must be true or false (true: port-forward to cluster-internal URLs that are unreachable from here; false: use the URLs as given)',
      })
      .default(true)
      .describe(
        'Automatic port-forward (default true): when frontendUrl or prometheusUrl name a cluster-internal Service ' +
          '(<svc>.<ns>.svc[.cluster.local] or a bare <svc>; the default frontendUrl is the frontend Service) that ' +
          'this machine cannot reach, faultline port-forwards to that Service through the API server itself and logs ' +
          'it. Needs get services, list pods and get+create pods/portforward in that namespace. false: use the URLs as given.',
      ),
    /**
     * The upstream manifest's `loadgenerator` Deployment (Locust driving its own traffic) — default false: it is
     * not deployed (nor its ServiceAccount) and its pods are never fault targets, so faultline's own traffic
     * (`traffic:`) is the only load. true: deployed with the rest and a fault target like any other pod.
     */
    loadGenerator: z
      .boolean({
        error:
          'target.loadGenerator must be true or false (true: deploy the upstream loadgenerator and let faults target it)',
      })
      .default(false)
      .describe(
        "The upstream manifest's loadgenerator (Locust) Deployment: default false keeps it out of the deploy and out " +
          'of the fault targets (faultline drives the traffic); true deploys it and lets faults target its pod.',
      ),
  })
  .strict();

export const targetSchema = z.discriminatedUnion('type', [localTargetSchema, kubernetesTargetSchema]);
export type TargetConfig = z.infer<typeof targetSchema>;
export type LocalTargetConfig = z.infer<typeof localTargetSchema>;
export type KubernetesTargetConfig = z.infer<typeof kubernetesTargetSchema>;
