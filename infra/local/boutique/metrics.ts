import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { listenOn } from '../listen';

/**
 * Prometheus metrics with the names the upstream ecosystem uses (go-grpc-prometheus for gRPC
 * servers, the usual http_* pair for the frontend), so dashboards and PromQL written for the
 * real system also work on the stand-in. Every series carries `pod` (POD_NAME) as a default label.
 */
export function createRegistry(pod: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ pod });
  // Coarse event-loop sampling: the default 10 ms wakes every idle process 100 times a second.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  return registry;
}

/** Latency buckets (seconds) from 1 ms to 10 s: local calls are fast, faults add seconds. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface GrpcServerMetrics {
  started: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  handled: Counter<'grpc_type' | 'grpc_service' | 'grpc_method' | 'grpc_code'>;
  handling: Histogram<'grpc_type' | 'grpc_service' | 'grpc_method'>;
}

export function createGrpcServerMetrics(registry: Registry): GrpcServerMetrics {
  return {
    started: new Counter({
      name: 'grpc_server_started_total',
      help: 'Total number of RPCs started on the server.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
      registers: [registry],
    }),
    handled: new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code'],
      registers: [registry],
    }),
    handling: new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
      buckets: BUCKETS,
      registers: [registry],
    }),
  };
}

/**
 * The calling side (go-grpc-prometheus' client metrics, with its handling-time histogram enabled): how long each
 * call to a dependency took as the caller saw it, network included. A delay or loss on a dependency's network
 * shows here, not in the dependency's own grpc_server_handling_seconds (which stops before the reply leaves).
 */
export interface GrpcClientMetrics {
  handled: Counter<'grpc_type' | 'grpc_service' | 'grpc_method' | 'grpc_code'>;
  handling: Histogram<'grpc_type' | 'grpc_service' | 'grpc_method'>;
}

export function createGrpcClientMetrics(registry: Registry): GrpcClientMetrics {
  return {
    handled: new Counter({
      name: 'grpc_client_handled_total',
      help: 'Total number of RPCs completed by the client, regardless of success or failure.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code'],
      registers: [registry],
    }),
    handling: new Histogram({
      name: 'grpc_client_handling_seconds',
      help: 'Histogram of response latency (seconds) of the gRPC until it is finished by the application.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
      buckets: BUCKETS,
      registers: [registry],
    }),
  };
}

export interface HttpMetrics {
  requests: Counter<'method' | 'route' | 'code'>;
  duration: Histogram<'method' | 'route'>;
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  return {
    requests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests served by the frontend, by route template and status code.',
      labelNames: ['method', 'route', 'code'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency (seconds) of the frontend, by route template.',
      labelNames: ['method', 'route'],
      buckets: BUCKETS,
      registers: [registry],
    }),
  };
}

/** Writes the registry in the Prometheus text format (used by /metrics handlers). */
export async function renderMetrics(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/** The side HTTP server of a gRPC service: GET /metrics, GET /healthz. */
export async function startMetricsServer(registry: Registry, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      renderMetrics(registry).then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(err));
        },
      );
      return;
    }
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  await listenOn(server, host, port, 'METRICS_PORT');
  return server;
}
