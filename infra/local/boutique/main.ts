/**
 * Entry point of one Online Boutique stand-in process:
 *
 *   node lib/infra/local/boutique/main.js --service <name>
 *
 * Configured by env vars only, like the upstream containers (see README.md in this folder).
 * Exit codes: 0 after SIGTERM/SIGINT, 1 when a port cannot be bound or startup fails, 2 for a
 * usage or configuration error (unknown service, missing/invalid env var).
 */
import { hostname } from 'node:os';
import type { BoutiqueService } from '../../../schemas/target';
import { ConfigError, positiveIntEnv } from './env';
import { ListenError } from '../listen';
import { createLogger } from './log';
import { createRegistry } from './metrics';
import type { RunningService, ServiceMain } from './service';
import { serveSupervisorChannel } from './memory-leak';

/**
 * Loaded lazily so each process only pulls in its own service's code (the frontend never loads
 * the Redis client, and no process loads zod from schemas/). Keyed by the schema's type so a
 * service added there must be added here.
 */
const SERVICES: Record<BoutiqueService, () => Promise<{ run: ServiceMain }>> = {
  frontend: () => import('./frontend/server.js'),
  productcatalogservice: () => import('./services/productcatalog.js'),
  currencyservice: () => import('./services/currency.js'),
  cartservice: () => import('./services/cart.js'),
  recommendationservice: () => import('./services/recommendation.js'),
  shippingservice: () => import('./services/shipping.js'),
  checkoutservice: () => import('./services/checkout.js'),
  paymentservice: () => import('./services/payment.js'),
  emailservice: () => import('./services/email.js'),
  adservice: () => import('./services/ad.js'),
};

function usage(): string {
  return `usage: node lib/infra/local/boutique/main.js --service <${Object.keys(SERVICES).join('|')}>`;
}

function parseService(argv: string[]): BoutiqueService {
  let name: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--service') name = argv[++i];
    else if (a.startsWith('--service=')) name = a.slice('--service='.length);
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${usage()}\n`);
      process.exit(0);
    } else throw new ConfigError(`unknown argument ${JSON.stringify(a)}\n${usage()}`);
  }
  if (!name) throw new ConfigError(`--service is required\n${usage()}`);
  if (!Object.hasOwn(SERVICES, name)) throw new ConfigError(`unknown service ${JSON.stringify(name)}\n${usage()}`);
  return name as BoutiqueService;
}

function fail(service: string, err: unknown): never {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`boutique ${service}: ${msg}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}

async function main(): Promise<void> {
  let service: BoutiqueService;
  try {
    service = parseService(process.argv.slice(2));
  } catch (err) {
    fail('main', err);
  }
  const env = process.env;
  const pod = env['POD_NAME']?.trim() || `${service}-${hostname()}`;
  const logger = createLogger(service, pod);
  let running: RunningService;
  try {
    const mod = await (SERVICES[service] ?? (() => Promise.reject(new Error('unreachable'))))();
    running = await mod.run({
      service,
      pod,
      host: env['LISTEN_HOST']?.trim() || '127.0.0.1',
      env,
      registry: createRegistry(pod),
      logger,
      deadlineMs: positiveIntEnv(env, 'GRPC_DEADLINE_MS', 3000),
    });
  } catch (err) {
    if (!(err instanceof ConfigError) && !(err instanceof ListenError)) {
      logger.error('startup failed', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
    fail(service, err);
  }
  logger.info('serving', { ...running.ports, pid: process.pid });
  // the supervisor's verbs that act inside the process (memory-leak); after serving, so a pod that failed to
  // start never claims it can
  serveSupervisorChannel();

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal means "now": skip the grace period.
      process.exit(1);
    }
    stopping = true;
    logger.info('shutting down', { signal });
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

process.on('uncaughtException', (err) => {
  process.stderr.write(`boutique: uncaught exception: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

main().catch((err: unknown) => fail('main', err));
