import * as fs from 'node:fs';
import * as path from 'node:path';
import { processGone, processIds, waitGone } from '../../infra/local/supervisor/state';

/**
 * A worker killed hard (SIGKILL, OOM) while the browser probe runs cannot quit its browser: chromedriver and the
 * chromium tree under it are re-parented to init and run on (~225 MB per probe). Node has no PR_SET_PDEATHSIG, so
 * the browser is tied to its worker by a marker instead, as the supervisor's pods are (POD_MARKER): chromedriver
 * starts with BROWSER_OWNER_ENV=<pid>:<start time> of the process that opened it, chromium and its helpers
 * inherit it, and /proc keeps it as it was at exec. A worker reaps, at start, every marked process whose owner
 * is no longer alive (the start time tells a reused pid apart), and the user-data directory it was using.
 */
export const BROWSER_OWNER_ENV = 'FAULTLINE_BROWSER_OWNER';

/** A browser session's directory in the temporary directory: `profile/` (--user-data-dir) and `tmp/` (TMPDIR). */
export const SESSION_DIR_PREFIX = 'faultline-chromium-';

/** Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22), or undefined when gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The owner token of this process: `<pid>:<start time>`. */
export function ownerToken(pid = process.pid): string {
  return `${pid}:${startTime(pid) ?? '?'}`;
}

/** The environment to start chromedriver under: this process's, plus the owner marker. */
export function markedBrowserEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  env[BROWSER_OWNER_ENV] = ownerToken();
  return env;
}

export interface MarkedProcess {
  pid: number;
  /** the owner token it carries */
  owner: string;
  /** the chromium profile directory on its command line, if any */
  userDataDir?: string;
}

/** Live processes carrying the browser owner marker (Linux /proc; empty elsewhere or for others' processes). */
export function markedBrowserProcesses(): MarkedProcess[] {
  const prefix = `${BROWSER_OWNER_ENV}=`;
  const out: MarkedProcess[] = [];
  for (const pid of processIds()) {
    if (pid === process.pid) continue;
    try {
      const vars = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const owner = vars.find((v) => v.startsWith(prefix))?.slice(prefix.length);
      if (owner === undefined || processGone(pid)) continue;
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const userDataDir = args.find((a) => a.startsWith('--user-data-dir='))?.slice('--user-data-dir='.length);
      out.push({ pid, owner, ...(userDataDir ? { userDataDir } : {}) });
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return out;
}

/** Whether the process an owner token names is still the same live process. */
function ownerAlive(owner: string): boolean {
  const [pid, start] = owner.split(':');
  const n = Number(pid);
  return Number.isInteger(n) && n > 0 && !processGone(n) && startTime(n) === start;
}

/**
 * Kills every marked browser process whose owner is gone and removes the profile directories they used (only
 * ours: the session directory around the profile) once they have exited. A live worker's browsers are left alone. Returns the pids
 * it killed.
 */
export async function reapOrphanedBrowsers(): Promise<number[]> {
  const killed: number[] = [];
  const dirs = new Set<string>();
  for (const p of markedBrowserProcesses()) {
    if (ownerAlive(p.owner)) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
      killed.push(p.pid);
    } catch {
      // already gone
    }
    const session = p.userDataDir && path.dirname(p.userDataDir);
    if (session && path.basename(session).startsWith(SESSION_DIR_PREFIX)) dirs.add(session);
  }
  await waitGone(killed, 5000);
  for (const d of dirs) await removeProfile(d);
  return killed;
}

/**
 * Removes a dead browser's profile directory. A helper chromium started just before the kill (not in the scan) may
 * still be writing into it: kill whatever names the directory on its command line, and retry until it is gone.
 */
async function removeProfile(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const users = processIds().filter((pid) => {
      try {
        return pid !== process.pid && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    });
    for (const pid of users) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await waitGone(users, 2000);
    try {
      fs.rmSync(dir, { recursive: true, force: true });
      return;
    } catch (err) {
      if (attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
