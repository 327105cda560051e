import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupEnv, execInCgroups } from '../../../infra/local/supervisor/cgroups';
import { stressDir } from '../paths';
import type { Fault, ResolvedFault } from './fault';

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

function toStressSize(size: string): string {
  // schema: 128MB / 1GB / 512KB / 100B / 10% → stress-ng's 128M / 1G / 512K / 100 / 10%
  return size.replace(/([KMG])B$/, '$1').replace(/(\d)B$/, '$1');
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
  ctx: Parameters<Fault['apply']>[0],
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

function stressFault(type: 'cpu-stress' | 'memory-stress', argsFor: (f: ResolvedFault) => string[]): Fault {
  return {
    type,
    oneShot: false,
    async apply(ctx, fault) {
      const existing = readStressPidFile(fault.key);
      if (existing && stressAlive(existing.pid)) return; // a retry finds its fault
      const pod = fault.pods[0];
      if (!pod) throw new Error(`${type} ${fault.id}: no pod selected`);
      const { podPid, cgroups, note } = await podCgroups(ctx, type, fault.id, pod.name);
      if (note) fault.detail.chargeNote = note;
      // the timeout makes stress-ng end by itself even if every worker dies with it running
      const seconds = Math.max(1, Math.ceil((fault.endMs - Date.now()) / 1000));
      const args = [...argsFor(fault), '--timeout', `${seconds}s`, '--quiet'];
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
    recover(_ctx, fault) {
      killStress(fault.key);
      return Promise.resolve();
    },
    recovered(_ctx, fault) {
      const pid = fault.detail.pid as number | undefined;
      const pf = readStressPidFile(fault.key);
      return Promise.resolve(!(pf && stressAlive(pf.pid)) && !(pid !== undefined && stressAlive(pid)));
    },
    isApplied(_ctx, fault) {
      const pf = readStressPidFile(fault.key);
      return Promise.resolve(!!pf && stressAlive(pf.pid));
    },
  };
}

export const cpuStress = stressFault('cpu-stress', (f) => [
  '--cpu',
  String(Number(f.params.workers ?? 1)),
  '--cpu-load',
  String(Number(f.params.load ?? 80)),
]);

export const memoryStress = stressFault('memory-stress', (f) => [
  '--vm',
  String(Number(f.params.workers ?? 1)),
  '--vm-bytes',
  toStressSize(typeof f.params.size === 'string' ? f.params.size : '128MB'),
  '--vm-keep',
]);
