import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * The .proto files stay in the source tree (tsc does not copy them into lib/), so look beside the
 * compiled file first and then in the source folder it was compiled from.
 */
function protoDir(): string {
  const candidates = [join(__dirname, 'proto'), resolve(__dirname, '../../../../infra/local/boutique/proto')];
  for (const dir of candidates) if (existsSync(join(dir, 'demo.proto'))) return dir;
  throw new Error(`demo.proto not found (looked in ${candidates.join(', ')})`);
}

/** snake_case field names and plain numbers for int64, as upstream's Node services load demo.proto. */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

export type HipstershopServiceName =
  | 'CartService'
  | 'RecommendationService'
  | 'ProductCatalogService'
  | 'ShippingService'
  | 'CurrencyService'
  | 'PaymentService'
  | 'EmailService'
  | 'CheckoutService'
  | 'AdService';

export interface LoadedProtos {
  /** Client constructors (with `.service` definitions) by hipstershop service name. */
  hipstershop: Record<HipstershopServiceName, grpc.ServiceClientConstructor>;
  health: grpc.ServiceClientConstructor;
}

let cached: LoadedProtos | undefined;

export function loadProtos(): LoadedProtos {
  if (cached) return cached;
  const dir = protoDir();
  const demo = grpc.loadPackageDefinition(protoLoader.loadSync(join(dir, 'demo.proto'), LOADER_OPTIONS));
  const health = grpc.loadPackageDefinition(protoLoader.loadSync(join(dir, 'health.proto'), LOADER_OPTIONS));
  const pkg = demo['hipstershop'] as grpc.GrpcObject;
  const names: HipstershopServiceName[] = [
    'CartService',
    'RecommendationService',
    'ProductCatalogService',
    'ShippingService',
    'CurrencyService',
    'PaymentService',
    'EmailService',
    'CheckoutService',
    'AdService',
  ];
  const hipstershop = {} as Record<HipstershopServiceName, grpc.ServiceClientConstructor>;
  for (const n of names) hipstershop[n] = pkg[n] as grpc.ServiceClientConstructor;
  const healthPkg = ((health['grpc'] as grpc.GrpcObject)['health'] as grpc.GrpcObject)['v1'] as grpc.GrpcObject;
  cached = { hipstershop, health: healthPkg['Health'] as grpc.ServiceClientConstructor };
  return cached;
}
