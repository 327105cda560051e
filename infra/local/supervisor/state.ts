import { readFileSync } from 'node:fs';
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
  let state: StateFile;
  try {
    state = JSON.parse(readFileSync(stateFilePath(dataDir), 'utf8')) as StateFile;
  } catch {
    return [];
  }
  const killed: number[] = [];
  for (const p of state.pods) {
    if (p.pid && p.cmdline && cmdlineOf(p.pid) === p.cmdline) {
      try {
        process.kill(p.pid, 'SIGKILL');
        killed.push(p.pid);
      } catch {
        // already gone
      }
    }
  }
  return killed;
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
