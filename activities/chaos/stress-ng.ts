import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupEnv, execInCgroups } from '../../infra/local/supervisor/cgroups';
import type { HostProcessRunner, LocalKindContext, ResolvedFault } from './kinds/kind';
import { stressDir } from './paths';

export const STRESS_NG = process.env.FAULTLINE_STRESS_NG ?? '/usr/bin/stress-ng';

/** What purge needs to find and kill a stress-ng run: written before the process starts doing harm. */
export interface StressPidFile {
  key: string;
  campaignId: string;
  faultId: string;
  pid: number;
  /** the pod the load is attributed to (and its pid, when the supervisor told us) */
  pod: string;
  app: string;
  podPid?: number;
  /** The pod's cgroups the stress runs in (its CPU and memory are charged to the pod); absent: host-level only. */
  cgroups?: string[];
  startedMs: number;
  endMs: number;
  args: string[];
}

const fileFor = (key: string) => join(stressDir(), `${key.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);

export function readStressPidFile(key: string): StressPidFile | undefined {
  try {
    return JSON.parse(readFileSync(fileFor(key), 'utf8')) as StressPidFile;
  } catch {
    return undefined;
  }
}

export function listStressPidFiles(): StressPidFile[] {
  let names: string[];
  try {
    names = readdirSync(stressDir());
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .flatMap((n) => {
      try {
        return [JSON.parse(readFileSync(join(stressDir(), n), 'utf8')) as StressPidFile];
      } catch {
        return [];
      }
    });
}

/** Alive and still stress-ng (a recycled pid is not ours); zombies count as dead. */
export function stressAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \([^)]*\) Z/.test(stat)) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('stress-ng');
  } catch {
    return false;
  }
}

/** Kills the stress-ng process group and removes its pid file. Idempotent. */
export function killStress(key: string): boolean {
  const pf = readStressPidFile(key);
  if (!pf) return false;
  if (stressAlive(pf.pid)) {
    try {
      process.kill(-pf.pid, 'SIGKILL'); // the whole group: stress-ng forks its workers
    } catch {
      try {
        process.kill(pf.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  rmSync(fileFor(key), { force: true });
  return true;
}

/**
 * The target pod's process and cgroups, ready to take the stress. A pod can die between the supervisor's answer
 * and the charge (a pod-kill of the same burst): its cgroup is then gone (ENOENT); the lookup is asked once more
 * (a restarted pod has a new process and cgroup), and a pod still without a running process — killed, held by a
 * pod-failure, starting — gets the stress on the host, uncharged and said so in the fault's detail, as a
 * StressChaos finds no container to enter. Never waits: the faults after it in the burst keep their schedule. A
 * cgroup that exists but cannot be written is a permission problem and fails the fault.
 */
async function podCgroups(
  ctx: LocalKindContext,
  type: string,
  faultId: string,
  podName: string,
): Promise<{ podPid?: number; cgroups?: string[]; note?: string }> {
  for (let attempt = 0; attempt < 2; attempt++) {
    let podPid: number | undefined;
    let cgroups: string[] | undefined;
    try {
      ({ pid: podPid, cgroups } = await ctx.supervisor.podPid(podName));
    } catch {
      return { note: `pod ${podName} had no running process: stress ran on the host, uncharged` };
    }
    let gone = false;
    for (const d of cgroups ?? []) {
      try {
        accessSync(join(d, 'cgroup.procs'), constants.W_OK);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          gone = true; // the pod died after the lookup: its cgroup went with it
          break;
        }
        throw new Error(
          `${type} ${faultId}: cannot charge the stress to pod ${podName}: ${join(d, 'cgroup.procs')} is not ` +
            `writable (${code ?? String(err)}); run the worker as the same user as the supervisor (root)`,
          { cause: err },
        );
      }
    }
    if (!gone) return { podPid, ...(cgroups ? { cgroups } : {}) };
  }
  return { note: `pod ${podName} died as the stress started: stress ran on the host, uncharged` };
}

/**
 * The stress-ng runner of the local target (the stress kinds' `ctx.processes`): one detached stress-ng process
 * group per fault, charged to the target pod's cgroups, recorded in a pid file before it does harm.
 */
export const stressNg: HostProcessRunner = {
  async start(ctx, fault, argv) {
    const type = fault.type;
    const existing = readStressPidFile(fault.key);
    if (existing && stressAlive(existing.pid)) return; // a retry finds its fault
    const pod = fault.pods[0];
    if (!pod) throw new Error(`${type} ${fault.id}: no pod selected`);
    const { podPid, cgroups, note } = await podCgroups(ctx, type, fault.id, pod.name);
    if (note) fault.detail.chargeNote = note;
    // the timeout makes stress-ng end by itself even if every worker dies with it running
    const seconds = Math.max(1, Math.ceil((fault.endMs - Date.now()) / 1000));
    const args = [...argv, '--timeout', `${seconds}s`, '--quiet'];
    mkdirSync(stressDir(), { recursive: true });
    // Inside the pod's cgroups from its first instruction (a kubelet-run StressChaos is charged to the
    // container the same way): the pod's container_cpu_usage_seconds_total and working set rise, not the host's
    // alone. The shell execs stress-ng, so the pid (and process group) stay the ones recorded below.
    const cmd = cgroups ? execInCgroups(cgroups, STRESS_NG, args) : { command: STRESS_NG, args };
    const child = spawn(cmd.command, cmd.args, {
      detached: true,
      stdio: 'ignore',
      env: cgroups ? { ...process.env, ...cgroupEnv(cgroups) } : process.env,
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => resolve(child.pid as number));
    });
    child.unref();
    const pf: StressPidFile = {
      key: fault.key,
      campaignId: fault.campaignId,
      faultId: fault.id,
      pid,
      pod: pod.name,
      app: fault.app,
      podPid,
      ...(cgroups ? { cgroups } : {}),
      startedMs: Date.now(),
      endMs: fault.endMs,
      args,
    };
    writeFileSync(fileFor(fault.key), JSON.stringify(pf));
    fault.detail.pid = pid;
    fault.detail.chargedTo = cgroups ? pod.name : 'host';
  },
  stop(fault) {
    killStress(fault.key);
  },
  /** The pid file's process, or the pid the apply recorded (the pid file may be gone), is still stress-ng. */
  running(fault: ResolvedFault<unknown>) {
    const pid = fault.detail.pid as number | undefined;
    const pf = readStressPidFile(fault.key);
    return (!!pf && stressAlive(pf.pid)) || (pid !== undefined && stressAlive(pid));
  },
};
