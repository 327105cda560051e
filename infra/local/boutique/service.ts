import type { Registry } from 'prom-client';
import type { BoutiqueService } from '../../../schemas/target';
import { ConfigError, optionalPort, requiredPort } from './env';
import { BoutiqueGrpcServer } from './grpc-server';
import type { Logger } from './log';
import { startMetricsServer } from './metrics';

/** What main.ts hands every service. */
export interface RunContext {
  service: BoutiqueService;
  pod: string;
  /** Listen address for every server of this process (LISTEN_HOST, default 127.0.0.1). */
  host: string;
  env: NodeJS.ProcessEnv;
  registry: Registry;
  logger: Logger;
  /** Deadline of each outgoing gRPC call (GRPC_DEADLINE_MS, default 3000). */
  deadlineMs: number;
}

export interface RunningService {
  /** The ports actually listened on, for the "ready" log line. */
  ports: Record<string, number>;
  close(): Promise<void>;
}

export type ServiceMain = (ctx: RunContext) => Promise<RunningService>;

/** How long SIGTERM lets running calls finish (upstream pods get 5 s; stay well inside it). */
export const SHUTDOWN_GRACE_MS = 2000;

/**
 * Common body of every gRPC service: PORT (gRPC) and METRICS_PORT (Prometheus /metrics over HTTP).
 * `register` adds the hipstershop service; `onClose` releases the service's own clients.
 */
export async function serveGrpc(
  ctx: RunContext,
  register: (server: BoutiqueGrpcServer) => void,
  opts: { isServing?: () => boolean; onClose?: () => Promise<void> | void } = {},
): Promise<RunningService> {
  const port = requiredPort(ctx.env, 'PORT', 'the gRPC listen port');
  const metricsPort = optionalPort(ctx.env, 'METRICS_PORT');
  if (metricsPort === port) throw new ConfigError('METRICS_PORT must differ from PORT');
  const server = new BoutiqueGrpcServer({
    host: ctx.host,
    port,
    registry: ctx.registry,
    logger: ctx.logger,
    isServing: opts.isServing,
  });
  register(server);
  const metricsServer =
    metricsPort === undefined ? undefined : await startMetricsServer(ctx.registry, ctx.host, metricsPort);
  if (metricsPort === undefined) ctx.logger.warn('METRICS_PORT is not set: no /metrics endpoint');
  try {
    await server.start();
  } catch (err) {
    metricsServer?.close();
    throw err;
  }
  const ports: Record<string, number> = { PORT: port };
  if (metricsPort !== undefined) ports['METRICS_PORT'] = metricsPort;
  return {
    ports,
    close: async () => {
      await server.shutdown(SHUTDOWN_GRACE_MS);
      await opts.onClose?.();
      if (metricsServer) {
        metricsServer.closeAllConnections();
        await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      }
    },
  };
}
