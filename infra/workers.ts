import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type WorkerKind = 'main' | 'training';

export interface WorkerProcess {
  kind: WorkerKind;
  pid: number;
  logPath: string;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const ENTRY: Record<WorkerKind, string> = {
  main: join(__dirname, '..', 'workers', 'main.js'),
  training: join(__dirname, '..', 'workers', 'training.js'),
};

/**
 * Starts a worker as a detached process (it outlives `faultline up`), logging to <home>/workers/<kind>.log.
 * Idempotent: a live worker recorded in the pid file is kept.
 */
export function startWorker(
  kind: WorkerKind,
  opts: { home: string; address: string; namespace?: string },
): WorkerProcess {
  const dir = join(opts.home, 'workers');
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, `${kind}.pid`);
  const logPath = join(dir, `${kind}.log`);
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (pid && pidAlive(pid)) return { kind, pid, logPath };
  }
  const log = openSync(logPath, 'a');
  const child = spawn(process.execPath, [ENTRY[kind]], {
    detached: true,
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: opts.address,
      TEMPORAL_NAMESPACE: opts.namespace ?? 'default',
      FAULTLINE_HOME: opts.home,
    },
  });
  child.unref();
  if (!child.pid) throw new Error(`failed to start the ${kind} worker`);
  writeFileSync(pidFile, String(child.pid));
  // for `faultline ps`: which server the worker polls
  writeFileSync(
    join(dir, `${kind}.json`),
    JSON.stringify({ pid: child.pid, address: opts.address, namespace: opts.namespace ?? 'default' }),
  );
  return { kind, pid: child.pid, logPath };
}

/** SIGTERM (graceful shutdown), SIGKILL after the grace period. Idempotent. */
export async function stopWorker(kind: WorkerKind, home: string, graceMs = 15_000): Promise<boolean> {
  const pidFile = join(home, 'workers', `${kind}.pid`);
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  rmSync(pidFile, { force: true });
  rmSync(join(home, 'workers', `${kind}.json`), { force: true });
  if (!pid || !pidAlive(pid)) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  return true;
}

export function workerStatus(
  kind: WorkerKind,
  home: string,
): { running: boolean; pid?: number; address?: string; logPath: string } {
  const dir = join(home, 'workers');
  const pidFile = join(dir, `${kind}.pid`);
  const logPath = join(dir, `${kind}.log`);
  if (!existsSync(pidFile)) return { running: false, logPath };
  const pid = Number(readFileSync(pidFile, 'utf8'));
  let address: string | undefined;
  try {
    const rec = JSON.parse(readFileSync(join(dir, `${kind}.json`), 'utf8')) as { pid: number; address: string };
    if (rec.pid === pid) address = rec.address;
  } catch {
    // started before the record existed
  }
  return { running: !!pid && pidAlive(pid) && runsWorker(pid, kind), pid, logPath, ...(address ? { address } : {}) };
}

/** Where /proc exists, whether the pid still runs that worker (pids are reused). */
function runsWorker(pid: number, kind: WorkerKind): boolean {
  if (!existsSync('/proc/self')) return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(ENTRY[kind]);
  } catch {
    return false;
  }
}
