import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import type { BoutiqueService } from '../../schemas/target';
import { healthCheck } from '../../infra/local/boutique/grpc-client';
import { isFree, waitUntil } from './ports';

/**
 * Starts the boutique stand-in the way the supervisor does — one OS process per service via
 * `node lib/infra/local/boutique/main.js --service <name>`, configured by env vars — plus a
 * throwaway redis-server, all on free ports.
 */

export const MAIN_JS = resolve(__dirname, '../../infra/local/boutique/main.js');
export const REDIS_SERVER = process.env['REDIS_SERVER'] ?? '/usr/bin/redis-server';

export const GRPC_SERVICES = [
  'productcatalogservice',
  'currencyservice',
  'cartservice',
  'recommendationservice',
  'shippingservice',
  'checkoutservice',
  'paymentservice',
  'emailservice',
  'adservice',
] as const satisfies readonly BoutiqueService[];
export type GrpcServiceName = (typeof GRPC_SERVICES)[number];

/** The upstream dependency env var that points at each gRPC service. */
export const ADDR_VAR: Record<GrpcServiceName, string> = {
  productcatalogservice: 'PRODUCT_CATALOG_SERVICE_ADDR',
  currencyservice: 'CURRENCY_SERVICE_ADDR',
  cartservice: 'CART_SERVICE_ADDR',
  recommendationservice: 'RECOMMENDATION_SERVICE_ADDR',
  shippingservice: 'SHIPPING_SERVICE_ADDR',
  checkoutservice: 'CHECKOUT_SERVICE_ADDR',
  paymentservice: 'PAYMENT_SERVICE_ADDR',
  emailservice: 'EMAIL_SERVICE_ADDR',
  adservice: 'AD_SERVICE_ADDR',
};

/** A child process with the tail of its output kept for failure messages. */
export class Proc {
  output = '';
  readonly exited: Promise<number | null>;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (b: Buffer): void => {
      this.output = (this.output + b.toString()).slice(-16_384);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = once(child, 'exit').then(([code]) => code as number | null);
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    await this.exited;
  }
}

export function spawnService(service: BoutiqueService, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [MAIN_JS, '--service', service], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Proc(service, child);
}

/**
 * Free ports below the kernel's ephemeral range (32768+ on Linux): a port from there can be taken
 * by any outgoing connection on the machine between allocation and bind (other suites run alongside).
 */
export async function allocatePorts(n: number, taken = new Set<number>()): Promise<number[]> {
  const out: number[] = [];
  for (let tries = 0; out.length < n; tries++) {
    if (tries > 1000) throw new Error(`could not find ${n} free ports`);
    const p = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(p) || out.includes(p) || !(await isFree(p))) continue;
    out.push(p);
  }
  return out;
}

export async function startRedis(): Promise<{ port: number; proc: Proc }> {
  const [port = 0] = await allocatePorts(1);
  return { port, proc: await startRedisOn(port) };
}

export async function startRedisOn(port: number): Promise<Proc> {
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const proc = new Proc('redis', child);
  await waitUntil(() => proc.output.includes('Ready to accept connections') || !proc.running, 15_000, 'redis-server');
  if (!proc.running) throw new Error(`redis-server exited:\n${proc.output}`);
  return proc;
}

export interface BoutiqueStack {
  redis: { port: number; proc: Proc };
  procs: Map<BoutiqueService, Proc>;
  ports: Record<BoutiqueService, number>;
  metricsPorts: Record<GrpcServiceName, number>;
  env: Record<BoutiqueService, Record<string, string>>;
  frontendUrl: string;
  addr(service: GrpcServiceName): string;
  /** Starts a stopped service again with the same env (same ports), and waits until it is healthy. */
  restart(service: BoutiqueService): Promise<void>;
  stop(): Promise<void>;
}

/** Waits for the service's health check; fails at once if its process exits. */
export async function waitHealthy(stack: BoutiqueStack, service: BoutiqueService, timeoutMs = 30_000): Promise<void> {
  const proc = stack.procs.get(service);
  let done = false;
  const healthy = waitUntil(
    async () => {
      if (done) return true;
      if (service === 'frontend') return (await fetch(`${stack.frontendUrl}/_healthz`)).ok;
      return (await healthCheck(stack.addr(service), 1000)) === 'SERVING';
    },
    timeoutMs,
    `${service} health`,
  );
  const exited = (proc?.exited ?? new Promise<never>(() => undefined)).then((code) => {
    throw new Error(`${service} exited with code ${code}`);
  });
  try {
    await Promise.race([healthy, exited]);
  } catch (err) {
    throw new Error(`${String(err)}\n--- ${service} output ---\n${proc?.output ?? ''}`, { cause: err });
  } finally {
    done = true;
    exited.catch(() => undefined);
    healthy.catch(() => undefined);
  }
}

/**
 * Starts redis and the ten services. A port can still be taken by another suite between allocation
 * and bind; then the whole stack is started again on new ports (the services' env links them all).
 */
export async function startBoutique(attempts = 3): Promise<BoutiqueStack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startBoutiqueOnce();
    } catch (err) {
      if (attempt >= attempts || !/already in use/.test(String(err))) throw err;
    }
  }
}

async function startBoutiqueOnce(): Promise<BoutiqueStack> {
  const redis = await startRedis();
  const services: BoutiqueService[] = ['frontend', ...GRPC_SERVICES];
  const ports = {} as Record<BoutiqueService, number>;
  const metricsPorts = {} as Record<GrpcServiceName, number>;
  const free = await allocatePorts(services.length + GRPC_SERVICES.length, new Set([redis.port]));
  for (const s of services) ports[s] = free.shift() ?? 0;
  for (const s of GRPC_SERVICES) metricsPorts[s] = free.shift() ?? 0;
  const addrEnv: Record<string, string> = {};
  for (const s of GRPC_SERVICES) addrEnv[ADDR_VAR[s]] = `127.0.0.1:${ports[s]}`;
  const env = {} as Record<BoutiqueService, Record<string, string>>;
  for (const s of services) {
    env[s] = { ...addrEnv, PORT: String(ports[s]), POD_NAME: `${s}-test-0`, REDIS_ADDR: `127.0.0.1:${redis.port}` };
  }
  for (const s of GRPC_SERVICES) env[s]['METRICS_PORT'] = String(metricsPorts[s]);

  const procs = new Map<BoutiqueService, Proc>();
  const stack: BoutiqueStack = {
    redis,
    procs,
    ports,
    metricsPorts,
    env,
    frontendUrl: `http://127.0.0.1:${ports.frontend}`,
    addr: (s) => `127.0.0.1:${ports[s]}`,
    restart: async (s) => {
      await procs.get(s)?.kill();
      procs.set(s, spawnService(s, env[s]));
      await waitHealthy(stack, s);
    },
    stop: async () => {
      await Promise.all([...procs.values()].map((p) => p.kill('SIGTERM')));
      await redis.proc.kill('SIGTERM');
    },
  };
  try {
    for (const s of services) procs.set(s, spawnService(s, env[s]));
    for (const s of services) await waitHealthy(stack, s, 60_000);
  } catch (err) {
    await Promise.all([...procs.values()].map((p) => p.kill()));
    await redis.proc.kill();
    throw err;
  }
  return stack;
}
