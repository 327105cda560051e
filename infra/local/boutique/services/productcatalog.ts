import * as grpc from '@grpc/grpc-js';
import catalogue from '../data/products.json';
import { GrpcError } from '../grpc-server';
import { serveGrpc, type ServiceMain } from '../service';
import type { Product } from '../types';

/** The upstream catalogue (camelCase JSON) as demo.proto messages. */
export function loadCatalogue(): Product[] {
  return catalogue.products.map((p) => ({
    id: p.id,
    name: p.name,
    description: p.description,
    picture: p.picture,
    price_usd: { currency_code: p.priceUsd.currencyCode, units: p.priceUsd.units, nanos: p.priceUsd.nanos },
    categories: [...p.categories],
  }));
}

export const run: ServiceMain = (ctx) => {
  const products = loadCatalogue();
  const byId = new Map(products.map((p) => [p.id, p]));
  return serveGrpc(ctx, (server) =>
    server.addService('ProductCatalogService', {
      ListProducts: () => ({ products }),
      GetProduct: (req) => {
        const p = byId.get(req.id);
        if (!p) throw new GrpcError(grpc.status.NOT_FOUND, `no product with ID ${req.id}`);
        return p;
      },
      // Upstream: case-insensitive substring match on name or description.
      SearchProducts: (req) => {
        const q = req.query.toLowerCase();
        return {
          results: products.filter((p) => p.name.toLowerCase().includes(q) || p.description.toLowerCase().includes(q)),
        };
      },
    }),
  );
};
