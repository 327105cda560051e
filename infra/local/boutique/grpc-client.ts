import * as grpc from '@grpc/grpc-js';
import { loadProtos, type HipstershopServiceName } from './proto';
import type { Methods } from './types';
import type { GrpcClientMetrics } from './metrics';
import { codeName } from './grpc-server';

/** A failed call to a dependency; its message names the dependency, method and address. */
export class DependencyError extends Error {
  constructor(
    readonly dependency: string,
    readonly method: string,
    readonly code: grpc.status | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'DependencyError';
  }
}

/**
 * Reconnect quickly after a dependency restarts on the same address: grpc-js backs off up to 120 s
 * by default, which would keep a client failing long after a killed pod is back.
 */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.dns_min_time_between_resolutions_ms': 1000,
};

type Req<S extends HipstershopServiceName, M extends keyof Methods[S]> = Methods[S][M] extends [infer R, unknown]
  ? R
  : never;
type Res<S extends HipstershopServiceName, M extends keyof Methods[S]> = Methods[S][M] extends [unknown, infer R]
  ? R
  : never;
type UnaryFn = (
  req: unknown,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: unknown) => void,
) => grpc.ClientUnaryCall;

/** A typed unary client for one hipstershop service with a per-call deadline. */
export class BoutiqueClient<S extends HipstershopServiceName> {
  private readonly client: grpc.Client;

  constructor(
    /** The upstream workload name, e.g. "cartservice": it appears in every error message. */
    readonly dependency: string,
    readonly service: S,
    readonly address: string,
    private readonly deadlineMs: number,
    /** the caller's client metrics (every call timed and counted, as its caller saw it) */
    private readonly metrics?: GrpcClientMetrics,
  ) {
    const Ctor = loadProtos().hipstershop[service];
    this.client = new Ctor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  }

  call<M extends keyof Methods[S] & string>(
    method: M,
    request: Req<S, M>,
    deadlineMs = this.deadlineMs,
  ): Promise<Res<S, M>> {
    const fn = (this.client as unknown as Record<string, UnaryFn>)[method];
    if (!fn) return Promise.reject(new Error(`hipstershop.${this.service} has no method ${method}`));
    const labels = { grpc_type: 'unary', grpc_service: `hipstershop.${this.service}`, grpc_method: method };
    const timer = this.metrics?.handling.startTimer(labels);
    return new Promise((resolve, reject) => {
      fn.call(this.client, request, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => {
        timer?.();
        this.metrics?.handled.inc({ ...labels, grpc_code: codeName(err ? err.code : grpc.status.OK) });
        if (err) {
          reject(
            new DependencyError(
              this.dependency,
              method,
              err.code,
              `${this.dependency} (hipstershop.${this.service}/${method} at ${this.address}): ${err.message}`,
            ),
          );
        } else resolve(res as Res<S, M>);
      });
    });
  }

  close(): void {
    this.client.close();
  }
}

/** grpc.health.v1 Check against an address; resolves to the serving status or rejects. */
export async function healthCheck(address: string, timeoutMs: number, service = ''): Promise<string> {
  const Ctor = loadProtos().health;
  const client = new Ctor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  try {
    return await new Promise<string>((resolve, reject) => {
      const check = (client as unknown as Record<string, UnaryFn>)['Check'];
      if (!check) throw new Error('health client has no Check');
      check.call(client, { service }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(err);
        else resolve(String((res as { status?: unknown }).status));
      });
    });
  } finally {
    client.close();
  }
}
