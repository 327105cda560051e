import * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { ListenError, listenHint } from '../listen';
import type { Logger } from './log';
import { createGrpcServerMetrics, type GrpcServerMetrics } from './metrics';
import { loadProtos, type HipstershopServiceName } from './proto';
import type { Methods } from './types';

/** An error with the gRPC status a handler wants to answer with. */
export class GrpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcError';
  }
}

/** Go's codes.Code.String(), the grpc_code label values go-grpc-prometheus writes. */
const CODE_NAMES: Record<number, string> = {
  0: 'OK',
  1: 'Canceled',
  2: 'Unknown',
  3: 'InvalidArgument',
  4: 'DeadlineExceeded',
  5: 'NotFound',
  6: 'AlreadyExists',
  7: 'PermissionDenied',
  8: 'ResourceExhausted',
  9: 'FailedPrecondition',
  10: 'Aborted',
  11: 'OutOfRange',
  12: 'Unimplemented',
  13: 'Internal',
  14: 'Unavailable',
  15: 'DataLoss',
  16: 'Unauthenticated',
};

export function codeName(code: number): string {
  return CODE_NAMES[code] ?? String(code);
}

/**
 * Deadline for an outgoing call made while serving `call`: the service's own per-hop deadline, cut
 * to what is left of the caller's deadline (as Go services propagate ctx), so work the caller gave
 * up on is not carried on downstream (e.g. no card is charged for an order the frontend abandoned).
 */
export function hopDeadlineMs(call: { getDeadline(): Date | number }, perHopMs: number): number {
  const d = call.getDeadline();
  const until = d instanceof Date ? d.getTime() : d;
  const left = Number.isFinite(until) ? until - Date.now() : Infinity;
  if (left <= 0) throw new GrpcError(grpc.status.DEADLINE_EXCEEDED, 'deadline exceeded before calling a dependency');
  return Math.min(perHopMs, left);
}

type Handler<Req, Res> = (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res> | Res;

export type ServiceImpl<S extends HipstershopServiceName> = {
  [M in keyof Methods[S]]: Methods[S][M] extends [infer Req, infer Res] ? Handler<Req, Res> : never;
};

export interface GrpcServerOptions {
  host: string;
  port: number;
  registry: Registry;
  logger: Logger;
  /** Health Check answers NOT_SERVING while this is false (e.g. cartservice without Redis). */
  isServing?: () => boolean;
}

const HEALTH_SERVICE = 'grpc.health.v1.Health';
/** How often an open health Watch re-reads the status: `isServing` is a function to poll, not an event. */
export const HEALTH_WATCH_POLL_MS = 500;

type HealthStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/**
 * A grpc-js server whose unary handlers are async functions. It records go-grpc-prometheus
 * metrics for every call, maps thrown errors to statuses, and serves grpc.health.v1.
 */
export class BoutiqueGrpcServer {
  private readonly server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  private readonly metrics: GrpcServerMetrics;
  private readonly services = new Set<string>(['']);
  private shuttingDown = false;
  /** open health Watch streams, each with its re-check: shutdown sends them NOT_SERVING and ends them */
  private readonly watches = new Map<
    grpc.ServerWritableStream<unknown, unknown>,
    { send: () => void; stop: () => void }
  >();

  constructor(private readonly opts: GrpcServerOptions) {
    this.metrics = createGrpcServerMetrics(opts.registry);
    this.addHealth();
  }

  addService<S extends HipstershopServiceName>(name: S, impl: ServiceImpl<S>): void {
    const ctor = loadProtos().hipstershop[name];
    const wrapped: grpc.UntypedServiceImplementation = {};
    for (const [method, def] of Object.entries(ctor.service)) {
      const handler = (impl as Record<string, Handler<unknown, unknown> | undefined>)[method];
      if (!handler) throw new Error(`${name}.${method} has no implementation`);
      wrapped[method] = this.wrapUnary(def.path, handler);
    }
    this.server.addService(ctor.service, wrapped);
    this.services.add(`hipstershop.${name}`);
  }

  private wrapUnary(path: string, handler: Handler<unknown, unknown>): grpc.handleUnaryCall<unknown, unknown> {
    const [, grpcService = '', grpcMethod = ''] = /^\/([^/]+)\/([^/]+)$/.exec(path) ?? [];
    const labels = { grpc_type: 'unary', grpc_service: grpcService, grpc_method: grpcMethod };
    const started = this.metrics.started.labels(labels);
    const timer = this.metrics.handling.labels(labels);
    return (call, callback) => {
      started.inc();
      const t0 = process.hrtime.bigint();
      const finish = (code: grpc.status): void => {
        timer.observe(Number(process.hrtime.bigint() - t0) / 1e9);
        this.metrics.handled.inc({ ...labels, grpc_code: codeName(code) });
      };
      let result: Promise<unknown>;
      try {
        result = Promise.resolve(handler(call.request, call));
      } catch (err) {
        result = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      result.then(
        (res) => {
          finish(grpc.status.OK);
          callback(null, res);
        },
        (err: unknown) => {
          const code = err instanceof GrpcError ? err.code : grpc.status.INTERNAL;
          const details = err instanceof Error ? err.message : String(err);
          if (!(err instanceof GrpcError)) this.opts.logger.error('unexpected handler error', { path, details });
          finish(code);
          callback({ code, details });
        },
      );
    };
  }

  private addHealth(): void {
    const health = loadProtos().health;
    const checkPath = `/${HEALTH_SERVICE}/Check`;
    this.server.addService(health.service, {
      Check: this.wrapUnary(checkPath, (req) => {
        const service = (req as { service?: string }).service ?? '';
        const status = this.healthOf(service);
        if (status === 'SERVICE_UNKNOWN') throw new GrpcError(grpc.status.NOT_FOUND, `unknown service ${service}`);
        return { status };
      }),
      // grpc.health.v1 Watch: the status at once, then each change, until the client cancels or the server stops
      // (an unknown service is SERVICE_UNKNOWN on the stream, not an error, as the protocol says).
      Watch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        const service = (call.request as { service?: string }).service ?? '';
        let last: HealthStatus | undefined;
        const send = () => {
          const status = this.healthOf(service);
          if (status !== last && !call.cancelled) call.write({ status });
          last = status;
        };
        const timer = setInterval(send, HEALTH_WATCH_POLL_MS);
        const stop = () => {
          clearInterval(timer);
          this.watches.delete(call);
        };
        this.watches.set(call, { send, stop });
        call.on('cancelled', stop);
        call.on('close', stop);
        send();
      },
    });
  }

  private healthOf(service: string): HealthStatus {
    if (!this.services.has(service)) return 'SERVICE_UNKNOWN';
    return !this.shuttingDown && (this.opts.isServing?.() ?? true) ? 'SERVING' : 'NOT_SERVING';
  }

  async start(): Promise<void> {
    const { host, port } = this.opts;
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    await new Promise<void>((resolve, reject) => {
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) => {
        if (err) reject(new ListenError(listenHint(err, host, port, 'PORT')));
        else resolve();
      });
    });
  }

  /** Stops taking calls, lets running ones finish for up to graceMs, then cuts the rest. */
  async shutdown(graceMs: number): Promise<void> {
    this.shuttingDown = true;
    // open watches hear NOT_SERVING and end, so they do not hold the graceful shutdown open
    for (const [call, { send, stop }] of [...this.watches]) {
      send();
      stop();
      call.end();
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
