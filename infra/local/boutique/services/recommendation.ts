import * as grpc from '@grpc/grpc-js';
import { randomInt } from 'node:crypto';
import { requiredAddr } from '../env';
import { BoutiqueClient, DependencyError } from '../grpc-client';
import { createGrpcClientMetrics } from '../metrics';
import { GrpcError, hopDeadlineMs } from '../grpc-server';
import { serveGrpc, type ServiceMain } from '../service';

const MAX_RESPONSES = 5;

/** k distinct random elements (partial Fisher-Yates). */
export function sample<T>(items: readonly T[], k: number): T[] {
  const a = [...items];
  const n = Math.min(k, a.length);
  for (let i = 0; i < n; i++) {
    const j = i + randomInt(a.length - i);
    const t = a[i] as T;
    a[i] = a[j] as T;
    a[j] = t;
  }
  return a.slice(0, n);
}

export const run: ServiceMain = (ctx) => {
  const clientMetrics = createGrpcClientMetrics(ctx.registry);
  const catalog = new BoutiqueClient(
    'productcatalogservice',
    'ProductCatalogService',
    requiredAddr(ctx.env, 'PRODUCT_CATALOG_SERVICE_ADDR'),
    ctx.deadlineMs,
    clientMetrics,
  );
  return serveGrpc(
    ctx,
    (server) =>
      server.addService('RecommendationService', {
        // Upstream: fetch the catalogue on every call, drop the given ids, return up to 5 at random.
        ListRecommendations: async (req, call) => {
          let ids: string[];
          try {
            ids = (await catalog.call('ListProducts', {}, hopDeadlineMs(call, ctx.deadlineMs))).products.map(
              (p) => p.id,
            );
          } catch (err) {
            if (err instanceof DependencyError) throw new GrpcError(grpc.status.UNAVAILABLE, err.message);
            throw err;
          }
          const exclude = new Set(req.product_ids);
          return {
            product_ids: sample(
              ids.filter((id) => !exclude.has(id)),
              MAX_RESPONSES,
            ),
          };
        },
      }),
    { onClose: () => catalog.close() },
  );
};
