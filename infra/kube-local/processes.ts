import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { alive, describeListener, logTail, portFree, stopPid, type PidRecord } from '../local/stack';
import { environOf, processesMarked, processGone, waitGone } from '../local/supervisor/state';
import { ClusterError } from './errors';

/** Every process of a local cluster carries its directory in this environment variable (found by /proc). */
export const CLUSTER_MARKER = 'FAULTLINE_KUBE_CLUSTER';
/** Processes started for a short-lived owner (a test run) carry its pid: reaped once that pid is gone. */
export const OWNER_MARKER = 'FAULTLINE_KUBE_OWNER';

/** One process of the cluster, as planned. */
export interface ComponentSpec {
  name: string;
  bin: string;
  args: string[];
  env?: Record<string, string>;
  /** Ports it listens on (the first is its address), checked free before it starts. */
  ports: { port: number; what: string }[];
  /** What `status` shows: a URL or host:port. */
  address: string;
  health: () => Promise<boolean>;
  /** Start-up is over (default: health). E.g. Chaos Mesh's manager answers /metrics before its controllers run. */
  ready?: () => Promise<boolean>;
}

/** A started component as recorded in the cluster's state file. */
export interface ComponentRecord extends PidRecord {
  name: string;
  address: string;
  log: string;
}

export interface Started {
  rec: ComponentRecord;
  /** Why it ended, once it has (undefined while it runs). */
  exited: () => string | undefined;
}

/** Fails, naming the port, the component and whoever holds it, unless every planned port is free. */
export async function checkPortsFree(specs: ComponentSpec[], setting: string): Promise<void> {
  for (const s of specs) {
    for (const p of s.ports) {
      if (!(await portFree(p.port))) {
        throw new ClusterError(
          `port ${p.port} on 127.0.0.1 (${s.name} ${p.what}) is taken by another process${describeListener(p.port)} — ` +
            `stop it or choose other ports (${setting})`,
          'port-taken',
        );
      }
    }
  }
}

/** A small, fixed environment (no proxies, no KUBECONFIG of the caller's) plus the markers. */
function componentEnv(spec: ComponentSpec, markers: Record<string, string>): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, ...spec.env, ...markers };
}

/** Starts a component detached (its own session: it outlives the CLI that started it), logging to <logDir>/<name>.log. */
export function spawnComponent(
  spec: ComponentSpec,
  logDir: string,
  markers: Record<string, string>,
  hash: string,
): Started {
  mkdirSync(logDir, { recursive: true });
  const log = path.join(logDir, `${spec.name}.log`);
  const fd = openSync(log, 'a');
  writeFileSync(fd, `--- ${new Date().toISOString()} starting ${spec.bin} ${spec.args.join(' ')}\n`);
  const child = spawn(spec.bin, spec.args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    cwd: logDir,
    env: componentEnv(spec, markers),
  });
  closeSync(fd);
  let exited: string | undefined;
  child.once('exit', (code, sig) => (exited = `exited with ${sig ?? `code ${code}`}`));
  child.once('error', (err) => (exited = `failed to start: ${err.message}`));
  child.unref();
  if (child.pid === undefined) {
    throw new ClusterError(`${spec.name}: could not be started (${spec.bin}) — see ${log}`);
  }
  return {
    rec: {
      name: spec.name,
      pid: child.pid,
      hash,
      port: spec.ports[0]?.port ?? 0,
      bin: spec.bin,
      startedAtMs: Date.now(),
      address: spec.address,
      log,
    },
    exited: () => exited,
  };
}

/** What a component logged since its latest start (spawnComponent writes a `--- <time> starting` line first). */
export function logSinceStart(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return '';
  }
  const at = text.lastIndexOf('\n--- ');
  return at < 0 ? text : text.slice(at + 1);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the component's health until it answers, it exits (error with its log's tail) or the deadline passes. */
export async function waitHealthy(
  spec: ComponentSpec,
  started: Started,
  deadlineMs: number,
  signal?: AbortSignal,
): Promise<void> {
  for (;;) {
    signal?.throwIfAborted();
    if (await (spec.ready ?? spec.health)()) return;
    // (the child's exit event, not /proc: right after spawn its cmdline can still be the parent's)
    const why = started.exited();
    if (why !== undefined) {
      const tail = logTail(started.rec.log, 12);
      throw new ClusterError(
        `${spec.name} ${why} before it was healthy — see ${started.rec.log}${tail ? `:\n${tail}` : ''}`,
      );
    }
    if (Date.now() > deadlineMs) {
      const tail = logTail(started.rec.log, 12);
      throw new ClusterError(`${spec.name} not healthy in time — see ${started.rec.log}${tail ? `:\n${tail}` : ''}`);
    }
    await sleep(100);
  }
}

/**
 * How long a component gets between SIGTERM and SIGKILL. Chaos Mesh's manager stops its controllers on the first
 * SIGTERM and then waits for a second signal (its fx app only starts listening after the manager returned): it
 * holds no state worth a wait.
 */
const STOP_GRACE_MS: Record<string, number> = { 'chaos-controller-manager': 1500 };

/** Stops components (SIGTERM, then SIGKILL after their grace), all at once, and waits until they are gone. */
export async function stopComponents(recs: ComponentRecord[], graceMs = 10_000): Promise<void> {
  await Promise.all(recs.filter((r) => alive(r)).map((r) => stopPid(r, STOP_GRACE_MS[r.name] ?? graceMs)));
}

/**
 * Kills (SIGKILL) every process that carries this cluster's marker — what a crashed `up` or a lost state file
 * left behind — and waits until they are gone. Returns their pids.
 */
export async function reapMarked(dir: string): Promise<number[]> {
  const pids = processesMarked(CLUSTER_MARKER, path.resolve(dir));
  return killAll(pids);
}

/** Kills every cluster process whose owner (OWNER_MARKER, e.g. a test run) is gone; returns their pids. */
export async function reapOrphans(): Promise<number[]> {
  const victims: number[] = [];
  for (const pid of processesMarked(OWNER_MARKER)) {
    const owner = Number(environOf(pid)?.get(OWNER_MARKER));
    if (Number.isInteger(owner) && owner > 0 && processGone(owner)) victims.push(pid);
  }
  return killAll(victims);
}

async function killAll(pids: number[]): Promise<number[]> {
  const killed: number[] = [];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // already gone
    }
  }
  if (killed.length > 0 && !(await waitGone(killed, 10_000))) {
    throw new ClusterError(`processes ${killed.join(', ')} did not exit after SIGKILL`);
  }
  return killed;
}
