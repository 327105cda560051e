import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { BOUTIQUE_SERVICES, type LocalTargetConfig } from '../../schemas/target';
import { faultlineHome, stackDir, supervisorMainPath, boutiqueMainPath } from './paths';
import {
  ADDR_ENV,
  DEPENDENCIES,
  MAX_REPLICAS,
  PORT_SPAN,
  podMetricsPort,
  podPort,
  publicPort,
  routePort,
  serviceAddrEnv,
} from './ports';
import type { AppSpec, SupervisorConfigInput } from './supervisor/config';
import { processIds, reapLeftoverPods, waitGone } from './supervisor/state';
import { REDIS_BIN, redisArgs, redisPing } from './redis/redis';
import { NODE_EXPORTER_BIN, nodeExporterArgs } from './node-exporter/node-exporter';
import { PROMETHEUS_BIN, prometheusArgs, prometheusConfig } from './prometheus/prometheus';

export type StackPartName = 'redis' | 'supervisor' | 'node-exporter' | 'prometheus';
/** Start order; stop runs in reverse. */
export const STACK_PARTS: readonly StackPartName[] = ['redis', 'supervisor', 'node-exporter', 'prometheus'];

export interface EnsureStackOptions {
  /** FAULTLINE_HOME (default faultlineHome()); the stack lives in <home>/stack. */
  home?: string;
  target: LocalTargetConfig;
  signal?: AbortSignal;
  /** Called with a short line per step (the deploy activity heartbeats it). */
  onProgress?: (message: string) => void;
  /** Per-part start timeout (process up and answering its readiness check). Default 60 s. */
  startTimeoutMs?: number;
  /** Binary overrides (tests, non-Debian hosts). */
  binaries?: Partial<Record<'redis' | 'node-exporter' | 'prometheus', string>>;
  /** Supervisor tuning: restart back-off and readiness probing. */
  supervisor?: Pick<SupervisorConfigInput, 'backoff' | 'readiness'>;
}

export interface StopStackOptions {
  home?: string;
  signal?: AbortSignal;
}

export interface StackPartStatus {
  name: StackPartName;
  pid?: number;
  port?: number;
  running: boolean;
  ready: boolean;
  log: string;
}

export interface StackInfo {
  home: string;
  frontendUrl: string;
  prometheusUrl: string;
  supervisorUrl: string;
  nodeExporterUrl: string;
  redisAddr: string;
  parts: StackPartStatus[];
}

/** A stack part that could not start: names the part and says how to fix it. */
export class StackStartError extends Error {
  constructor(
    readonly part: StackPartName,
    message: string,
    /** missing/port-taken need the operator; failed (exited, not ready in time) may pass on a retry. */
    readonly reason: 'missing' | 'port-taken' | 'failed' = 'failed',
  ) {
    super(`${part}: ${message}`);
    this.name = 'StackStartError';
  }
}

export interface PidRecord {
  pid: number;
  hash: string;
  port: number;
  bin: string;
  startedAtMs: number;
}

interface PartPlan {
  name: StackPartName;
  bin: string;
  args: string[];
  port: number;
  /** Config field that moves the port, for the error message. */
  portField: string;
  /** Extra ports the part binds (the supervisor's service and pod ports). */
  extraPorts: { port: number; what: string }[];
  ready: () => Promise<boolean>;
  missingHint: string;
  /** Files written before start (generated configs). */
  files: { path: string; content: string }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function httpOk(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function portFreeWithin(port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await portFree(port)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** " (pid N: command line)" of the process listening on a TCP port, from /proc; "" when unknown. */
export function describeListener(port: number): string {
  try {
    const inodes = new Set<string>();
    for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text = '';
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const c = line.trim().split(/\s+/);
        const local = c[1]?.split(':')[1];
        if (local && parseInt(local, 16) === port && c[3] === '0A' && c[9]) inodes.add(`socket:[${c[9]}]`);
      }
    }
    if (!inodes.size) return '';
    for (const e of processIds()) {
      let fds: string[] = [];
      try {
        fds = readdirSync(`/proc/${e}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        try {
          if (inodes.has(readlinkSync(`/proc/${e}/fd/${fd}`))) {
            const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ').trim();
            return ` (pid ${e}: ${cmd.slice(0, 160)})`;
          }
        } catch {
          // closed meanwhile
        }
      }
    }
  } catch {
    // not Linux
  }
  return '';
}

function pidFile(dir: string, name: StackPartName): string {
  return path.join(dir, `${name}.pid.json`);
}

function readPid(dir: string, name: StackPartName): PidRecord | undefined {
  try {
    return JSON.parse(readFileSync(pidFile(dir, name), 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

/** Alive and still the program we started (pids are reused). */
export function alive(rec: PidRecord | undefined): rec is PidRecord {
  if (!rec) return false;
  try {
    const cmd = readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8');
    const stat = readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
    // a zombie (state Z) is dead for our purposes
    if (/^\d+ \(.*\) Z/.test(stat)) return false;
    // redis rewrites its title ("/usr/bin/redis-server 127.0.0.1:6379"), so match on the program's name
    return cmd.includes(path.basename(rec.bin));
  } catch {
    return false;
  }
}

export function logTail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function urls(t: LocalTargetConfig) {
  return {
    frontendUrl: `http://127.0.0.1:${publicPort(t.basePort, 'frontend')}`,
    prometheusUrl: `http://127.0.0.1:${t.prometheus.port}`,
    supervisorUrl: `http://127.0.0.1:${t.supervisorPort}`,
    nodeExporterUrl: `http://127.0.0.1:${t.nodeExporterPort}`,
    redisAddr: `127.0.0.1:${t.redisPort}`,
  };
}

/** The supervisor's apps for the boutique: each service behind its proxy, replicas from the target config. */
export function boutiqueApps(t: LocalTargetConfig): AppSpec[] {
  const env = { ...serviceAddrEnv(t.basePort), REDIS_ADDR: `127.0.0.1:${t.redisPort}`, ENABLE_PROFILER: '0' };
  return BOUTIQUE_SERVICES.map((svc) => ({
    app: svc,
    replicas: t.replicas[svc] ?? 1,
    protocol: svc === 'frontend' ? ('http' as const) : ('grpc' as const),
    publicPort: publicPort(t.basePort, svc),
    podPorts: Array.from({ length: MAX_REPLICAS }, (_, slot) => ({
      port: podPort(t.basePort, svc, slot),
      metricsPort: podMetricsPort(t.basePort, svc, slot),
    })),
    // the frontend serves /metrics on its HTTP port; gRPC services on METRICS_PORT
    metricsOn: svc === 'frontend' ? ('port' as const) : ('metricsPort' as const),
    command: process.execPath,
    args: [boutiqueMainPath(), '--service', svc],
    env,
    // the caller's own route to each dependency: the supervisor points the caller's *_SERVICE_ADDR at it
    routes: (DEPENDENCIES[svc] ?? []).map((dep) => ({
      dependency: dep,
      port: routePort(t.basePort, svc, dep),
      env: ADDR_ENV[dep] ?? '',
    })),
  }));
}

function plan(opts: EnsureStackOptions, dir: string): PartPlan[] {
  const t = opts.target;
  const bins = opts.binaries ?? {};
  const setup = 'run `bash infra/setup.sh` (or `apt-get install redis-server prometheus prometheus-node-exporter`)';
  const supervisorDir = path.join(dir, 'supervisor');
  const supervisorConfig: SupervisorConfigInput = {
    port: t.supervisorPort,
    dataDir: supervisorDir,
    namespace: 'default',
    apps: boutiqueApps(t),
    ...opts.supervisor,
  };
  const extra: PartPlan['extraPorts'] = [];
  for (const a of supervisorConfig.apps) {
    extra.push({ port: a.publicPort, what: `${a.app} service` });
    for (const r of a.routes ?? []) extra.push({ port: r.port, what: `${a.app} → ${r.dependency} route` });
    for (const p of a.podPorts.slice(0, a.replicas)) {
      extra.push({ port: p.port, what: `${a.app} pod` }, { port: p.metricsPort, what: `${a.app} pod metrics` });
    }
  }
  const promConfigFile = path.join(dir, 'prometheus.yml');
  const supervisorConfigFile = path.join(dir, 'supervisor.json');
  return [
    {
      name: 'redis',
      bin: bins.redis ?? REDIS_BIN,
      args: redisArgs(t.redisPort, path.join(dir, 'redis')),
      port: t.redisPort,
      portField: 'target.redisPort',
      extraPorts: [],
      ready: () => redisPing(t.redisPort),
      missingHint: setup,
      files: [],
    },
    {
      name: 'supervisor',
      bin: process.execPath,
      args: [supervisorMainPath(), '--config', supervisorConfigFile],
      port: t.supervisorPort,
      portField: 'target.supervisorPort',
      extraPorts: extra,
      ready: () => httpOk(`http://127.0.0.1:${t.supervisorPort}/healthz`),
      missingHint: 'run `npm run build` (the supervisor and the boutique services are compiled to lib/)',
      files: [{ path: supervisorConfigFile, content: JSON.stringify(supervisorConfig, null, 1) }],
    },
    {
      name: 'node-exporter',
      bin: bins['node-exporter'] ?? NODE_EXPORTER_BIN,
      args: nodeExporterArgs(t.nodeExporterPort),
      port: t.nodeExporterPort,
      portField: 'target.nodeExporterPort',
      extraPorts: [],
      ready: () => httpOk(`http://127.0.0.1:${t.nodeExporterPort}/metrics`, 3000),
      missingHint: setup,
      files: [],
    },
    {
      name: 'prometheus',
      bin: bins.prometheus ?? PROMETHEUS_BIN,
      args: prometheusArgs({
        configFile: promConfigFile,
        tsdbPath: path.join(dir, 'prometheus'),
        port: t.prometheus.port,
        retention: t.prometheus.retention,
      }),
      port: t.prometheus.port,
      portField: 'target.prometheus.port',
      extraPorts: [],
      ready: () => httpOk(`http://127.0.0.1:${t.prometheus.port}/-/ready`),
      missingHint: setup,
      files: [
        {
          path: promConfigFile,
          content: prometheusConfig({
            scrapeInterval: t.prometheus.scrapeInterval,
            nodeExporterPort: t.nodeExporterPort,
            supervisorPort: t.supervisorPort,
          }),
        },
      ],
    },
  ];
}

function hashOf(p: PartPlan): string {
  return createHash('sha256')
    .update(JSON.stringify([p.bin, p.args, p.files.map((f) => f.content)]))
    .digest('hex')
    .slice(0, 16);
}

/** Serialises stack changes between processes (two deploys of one home must not both start Prometheus). */
export async function withLock<T>(dir: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  const file = path.join(dir, 'lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const fd = openSync(file, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder: number;
      try {
        holder = Number(readFileSync(file, 'utf8'));
      } catch {
        continue;
      }
      let holderAlive: boolean;
      try {
        // 0 / NaN: the holder is still writing its pid
        if (Number.isInteger(holder) && holder > 0) process.kill(holder, 0);
        holderAlive = true;
      } catch {
        holderAlive = false;
      }
      if (!holderAlive) {
        rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${dir} is locked by pid ${holder} (${file})`, { cause: err });
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}

export async function stopPid(rec: PidRecord, graceMs = 10_000): Promise<void> {
  try {
    process.kill(rec.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(rec)) {
    if (Date.now() > deadline) {
      try {
        process.kill(rec.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await sleep(50);
      if (!alive(rec)) break;
    }
    await sleep(50);
  }
}

async function startPart(p: PartPlan, dir: string, opts: EnsureStackOptions): Promise<PidRecord> {
  const progress = opts.onProgress ?? (() => undefined);
  const hash = hashOf(p);
  const existing = readPid(dir, p.name);
  if (alive(existing)) {
    if (existing.hash === hash) {
      progress(`${p.name}: already running (pid ${existing.pid})`);
      return existing;
    }
    progress(`${p.name}: configuration changed, restarting pid ${existing.pid}`);
    await stopPid(existing);
  }
  try {
    accessSync(p.bin, constants.X_OK);
    if (p.name === 'supervisor') {
      accessSync(p.args[0] ?? '', constants.R_OK);
      accessSync(boutiqueMainPath(), constants.R_OK);
    }
  } catch (err) {
    const what = p.name === 'supervisor' ? ((err as NodeJS.ErrnoException).path ?? p.bin) : p.bin;
    throw new StackStartError(p.name, `${path.basename(what)} not found at ${what} — ${p.missingHint}`, 'missing');
  }
  if (p.name === 'supervisor') {
    // pods of a supervisor that died hard still hold the service's pod ports
    const reaped = reapLeftoverPods(path.join(dir, 'supervisor'));
    if (reaped.length > 0) {
      progress(`supervisor: killing ${reaped.length} pods left by a dead supervisor`);
      await waitGone(reaped, 10_000);
    }
  }
  if (!(await portFree(p.port))) {
    throw new StackStartError(
      p.name,
      `port ${p.port} is taken by another process — set ${p.portField} or stop that process`,
      'port-taken',
    );
  }
  for (const e of p.extraPorts) {
    // The supervisor's pod ports: pods of a supervisor that died hard were just killed, and a killed process
    // can take a moment to release its socket on a loaded host.
    if (!(await portFreeWithin(e.port, p.name === 'supervisor' ? 10_000 : 0))) {
      throw new StackStartError(
        p.name,
        `port ${e.port} (${e.what}) is taken by another process${describeListener(e.port)} — set target.basePort to a free range or stop that process`,
        'port-taken',
      );
    }
  }
  for (const f of p.files) writeFileSync(f.path, f.content);
  const log = path.join(dir, `${p.name}.log`);
  const fd = openSync(log, 'a');
  writeFileSync(fd, `--- ${new Date().toISOString()} starting ${p.bin} ${p.args.join(' ')}\n`);
  // detached + own session: the stack outlives the worker or CLI that started it
  const child = spawn(p.bin, p.args, { detached: true, stdio: ['ignore', fd, fd], cwd: dir });
  closeSync(fd);
  let exited: string | undefined;
  child.once('exit', (code, sig) => (exited = `exited with ${sig ?? `code ${code}`}`));
  child.once('error', (err) => (exited = `failed to start: ${err.message}`));
  child.unref();
  const pid = child.pid;
  if (pid === undefined) {
    await sleep(10);
    throw new StackStartError(p.name, `${exited ?? 'could not be started'} — see ${log}`);
  }
  const rec: PidRecord = { pid, hash, port: p.port, bin: p.bin, startedAtMs: Date.now() };
  writeFileSync(pidFile(dir, p.name), JSON.stringify(rec));
  progress(`${p.name}: started pid ${pid}, waiting for readiness`);
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    if (opts.signal?.aborted) {
      await stopPid(rec);
      opts.signal.throwIfAborted();
    }
    if (await p.ready()) break;
    if (exited !== undefined) {
      rmSync(pidFile(dir, p.name), { force: true });
      const tail = logTail(log);
      throw new StackStartError(p.name, `${exited} before it was ready — see ${log}${tail ? `:\n${tail}` : ''}`);
    }
    if (Date.now() > deadline) {
      await stopPid(rec);
      rmSync(pidFile(dir, p.name), { force: true });
      throw new StackStartError(p.name, `not ready after ${opts.startTimeoutMs ?? 60_000} ms — see ${log}`);
    }
    await sleep(100);
  }
  progress(`${p.name}: ready`);
  return rec;
}

/**
 * Idempotently starts the local stack (redis, supervisor with the boutique, node-exporter, Prometheus) as detached
 * processes with pid files under <home>/stack/. A part already running with the same configuration is reused; one
 * whose configuration changed is restarted. Readiness is checked for real (PING, /healthz, /metrics, /-/ready).
 * A part that cannot start throws a StackStartError naming the part and the fix.
 */
/** The target config cannot work as given (overlapping ports). */
export class StackConfigError extends Error {
  override name = 'StackConfigError';
}

/** The stack's own ports must not fall inside the boutique's [basePort, basePort + PORT_SPAN) range. */
export function checkPortLayout(t: LocalTargetConfig): void {
  const end = t.basePort + PORT_SPAN;
  const fields: [string, number][] = [
    ['target.prometheus.port', t.prometheus.port],
    ['target.nodeExporterPort', t.nodeExporterPort],
    ['target.supervisorPort', t.supervisorPort],
    ['target.redisPort', t.redisPort],
  ];
  for (const [name, port] of fields) {
    if (port >= t.basePort && port < end) {
      throw new StackConfigError(
        `${name} ${port} lies inside the boutique's port range ${t.basePort}-${end - 1} (target.basePort + ${PORT_SPAN}): move one of them`,
      );
    }
  }
  const seen = new Map<number, string>();
  for (const [name, port] of fields) {
    const other = seen.get(port);
    if (other) throw new StackConfigError(`${name} and ${other} are both ${port}: give each stack part its own port`);
    seen.set(port, name);
  }
}

export async function ensureStack(opts: EnsureStackOptions): Promise<StackInfo> {
  checkPortLayout(opts.target);
  const home = path.resolve(opts.home ?? faultlineHome());
  const dir = stackDir(home);
  mkdirSync(path.join(dir, 'redis'), { recursive: true });
  mkdirSync(path.join(dir, 'prometheus'), { recursive: true });
  mkdirSync(path.join(dir, 'supervisor'), { recursive: true });
  await withLock(dir, opts.signal, async () => {
    for (const p of plan(opts, dir)) await startPart(p, dir, opts);
  });
  return { home, ...urls(opts.target), parts: await partStatuses(dir, opts.target) };
}

/** Stops every part recorded under <home>/stack (reverse order). Idempotent. */
export async function stopStack(opts: StopStackOptions = {}): Promise<void> {
  const home = path.resolve(opts.home ?? faultlineHome());
  const dir = stackDir(home);
  mkdirSync(dir, { recursive: true });
  await withLock(dir, opts.signal, async () => {
    for (const name of [...STACK_PARTS].reverse()) {
      const rec = readPid(dir, name);
      if (alive(rec)) await stopPid(rec, name === 'supervisor' ? 15_000 : 10_000);
      rmSync(pidFile(dir, name), { force: true });
    }
  });
}

async function partStatuses(dir: string, target?: LocalTargetConfig): Promise<StackPartStatus[]> {
  const out: StackPartStatus[] = [];
  const checks: Record<StackPartName, (port: number) => Promise<boolean>> = {
    redis: (port) => redisPing(port),
    supervisor: (port) => httpOk(`http://127.0.0.1:${port}/healthz`),
    'node-exporter': (port) => httpOk(`http://127.0.0.1:${port}/metrics`, 3000),
    prometheus: (port) => httpOk(`http://127.0.0.1:${port}/-/ready`),
  };
  const wanted: Partial<Record<StackPartName, number>> = target
    ? {
        redis: target.redisPort,
        supervisor: target.supervisorPort,
        'node-exporter': target.nodeExporterPort,
        prometheus: target.prometheus.port,
      }
    : {};
  for (const name of STACK_PARTS) {
    const rec = readPid(dir, name);
    const running = alive(rec);
    const port = rec?.port ?? wanted[name];
    const s: StackPartStatus = {
      name,
      running,
      ready: running && port !== undefined ? await checks[name](port) : false,
      log: path.join(dir, `${name}.log`),
    };
    if (running) s.pid = rec.pid;
    if (port !== undefined) s.port = port;
    out.push(s);
  }
  return out;
}

/** What is running under <home>/stack, each part with its readiness. */
export async function stackStatus(opts: { home?: string } = {}): Promise<StackPartStatus[]> {
  return partStatuses(stackDir(path.resolve(opts.home ?? faultlineHome())));
}
