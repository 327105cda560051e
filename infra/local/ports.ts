import { BOUTIQUE_SERVICES, type BoutiqueService } from '../../schemas/target';

/**
 * Fixed port layout of the local boutique, relative to the target's basePort:
 *
 *   basePort + i                      public (Service) port of service i (the fault proxy listens here)
 *   basePort + 10 + 10*i + 2*slot     pod port of replica `slot` of service i (the process's PORT)
 *   basePort + 10 + 10*i + 2*slot + 1 that pod's METRICS_PORT (gRPC services serve /metrics there)
 *   basePort + ROUTE_BASE + 10*c + d   caller c's own route to dependency d (a per-caller proxy; see DEPENDENCIES)
 *
 * i is the index in BOUTIQUE_SERVICES (frontend = 0). A replacement pod reuses its slot's ports, so the
 * whole stand-in needs PORT_SPAN consecutive ports, whatever the kill rate.
 */
export const MAX_REPLICAS = 5;
const ROUTE_BASE = 10 + 10 * BOUTIQUE_SERVICES.length;
export const PORT_SPAN = ROUTE_BASE + 10 * BOUTIQUE_SERVICES.length;

/**
 * Who calls whom in the boutique (the upstream call graph, as the stand-ins implement it): each caller reaches
 * each of these dependencies through a route of its own, so a fault can cut one caller from one dependency
 * (dependency-failure) while every other caller still reaches it.
 */
export const DEPENDENCIES: Partial<Record<BoutiqueService, readonly BoutiqueService[]>> = {
  frontend: [
    'productcatalogservice',
    'currencyservice',
    'cartservice',
    'recommendationservice',
    'shippingservice',
    'checkoutservice',
    'adservice',
  ],
  checkoutservice: [
    'productcatalogservice',
    'currencyservice',
    'cartservice',
    'shippingservice',
    'paymentservice',
    'emailservice',
  ],
  recommendationservice: ['productcatalogservice'],
};

/** The port of caller's own route to dependency (inside PORT_SPAN). */
export function routePort(basePort: number, caller: BoutiqueService, dependency: BoutiqueService): number {
  return basePort + ROUTE_BASE + 10 * indexOf(caller) + indexOf(dependency);
}

function indexOf(service: BoutiqueService): number {
  const i = BOUTIQUE_SERVICES.indexOf(service);
  if (i < 0) throw new Error(`unknown boutique service "${service}"`);
  return i;
}

export function publicPort(basePort: number, service: BoutiqueService): number {
  return basePort + indexOf(service);
}

function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_REPLICAS) {
    throw new Error(`replica slot ${slot} is outside 0..${MAX_REPLICAS - 1}`);
  }
}

export function podPort(basePort: number, service: BoutiqueService, slot: number): number {
  checkSlot(slot);
  return basePort + 10 + 10 * indexOf(service) + 2 * slot;
}

export function podMetricsPort(basePort: number, service: BoutiqueService, slot: number): number {
  return podPort(basePort, service, slot) + 1;
}

/** The env var through which a service finds another one (upstream names), or undefined for the frontend. */
export const ADDR_ENV: Partial<Record<BoutiqueService, string>> = {
  productcatalogservice: 'PRODUCT_CATALOG_SERVICE_ADDR',
  currencyservice: 'CURRENCY_SERVICE_ADDR',
  cartservice: 'CART_SERVICE_ADDR',
  recommendationservice: 'RECOMMENDATION_SERVICE_ADDR',
  shippingservice: 'SHIPPING_SERVICE_ADDR',
  checkoutservice: 'CHECKOUT_SERVICE_ADDR',
  adservice: 'AD_SERVICE_ADDR',
  paymentservice: 'PAYMENT_SERVICE_ADDR',
  emailservice: 'EMAIL_SERVICE_ADDR',
};

/** Every *_SERVICE_ADDR variable pointing at the public (proxied) ports, as in the upstream manifest. */
export function serviceAddrEnv(basePort: number, host = '127.0.0.1'): Record<string, string> {
  const env: Record<string, string> = {};
  for (const svc of BOUTIQUE_SERVICES) {
    const name = ADDR_ENV[svc];
    if (name) env[name] = `${host}:${publicPort(basePort, svc)}`;
  }
  return env;
}
