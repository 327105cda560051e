import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The supervisor's state file (<dataDir>/state.json): its pid and every pod with its process. */
export interface StateFile {
  supervisorPid: number;
  updatedAtMs: number;
  pods: { name: string; app: string; pid?: number; cmdline: string }[];
}

export function stateFilePath(dataDir: string): string {
  return path.join(dataDir, 'state.json');
}

export function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * A supervisor killed hard (SIGKILL, OOM) leaves its pods running and holding their ports. Kill the pods its state
 * file records, when the pid still runs the same command line (pids get reused). Returns the pids it killed.
 */
export function reapLeftoverPods(dataDir: string): number[] {
  const victims = new Set<number>();
  try {
    const state = JSON.parse(readFileSync(stateFilePath(dataDir), 'utf8')) as StateFile;
    for (const p of state.pods) if (p.pid && p.cmdline && cmdlineOf(p.pid) === p.cmdline) victims.add(p.pid);
  } catch {
    // no state file: the marker scan below still finds the pods
  }
  // The state file trails the pods by up to 100 ms (and a pod's cmdline read right after spawn can still be
  // the parent's): a supervisor killed just after starting a pod leaves one the file does not name. Every pod
  // carries POD_MARKER=<dataDir> in its environment, which /proc keeps as it was at exec.
  for (const pid of podsMarkedFor(dataDir)) victims.add(pid);
  const killed: number[] = [];
  for (const pid of victims) {
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // already gone
    }
  }
  return killed;
}

/** Pids of every process /proc lists (empty where there is no /proc). */
export function processIds(): number[] {
  try {
    return readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .map(Number);
  } catch {
    return [];
  }
}

/** The environment variable every pod of a supervisor carries: the supervisor's data dir. */
export const POD_MARKER = 'FAULTLINE_POD_OF';

/** Pids of live processes whose environment carries POD_MARKER=<dataDir> (Linux /proc; empty elsewhere). */
export function podsMarkedFor(dataDir: string): number[] {
  return processesMarked(POD_MARKER, path.resolve(dataDir));
}

/** A live process's environment as it was at exec (Linux /proc), or undefined when gone or not ours to read. */
export function environOf(pid: number): Map<string, string> | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  const env = new Map<string, string>();
  for (const kv of raw.split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return env;
}

/**
 * Pids of live processes (not this one, not zombies) whose environment carries name=value; with value undefined,
 * every process that carries `name` at all. Services started with such a marker can be found and stopped after
 * whoever started them died without a trace (the local stack's pods, the local Kubernetes cluster's processes).
 */
export function processesMarked(name: string, value?: string): number[] {
  const needle = Buffer.from(value === undefined ? `\0${name}=` : `\0${name}=${value}\0`);
  const out: number[] = [];
  for (const pid of processIds()) {
    if (pid === process.pid) continue;
    try {
      // leading NUL so the first variable matches too
      const env = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`), Buffer.from([0])]);
      if (env.includes(needle) && !processGone(pid)) out.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Gone or a zombie (an exited orphan nobody reaped yet: its sockets are already closed). */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Waits (polling /proc) until every pid has exited; false on timeout. */
export async function waitGone(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!pids.every(processGone)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
