import { createHash } from 'node:crypto';
import { accessSync, constants, mkdirSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import path from 'node:path';

/**
 * One cgroup (v1) per local pod, as a kubelet gives each container: the supervisor starts a pod's process
 * inside `<mount>/<its own cgroup>/faultline/<stack>/<pod>` for the cpu, cpuacct and memory controllers, reads
 * its CPU time and memory there (the numbers cAdvisor reads), and removes the cgroup when the pod dies.
 * The directories sit under the supervisor's own cgroup of each controller, so a memory limit the host puts on
 * the supervisor still covers its pods.
 *
 * cgroup v2 alone (no v1 hierarchies) or no write access (not root): `detectCgroups` says why, and the
 * supervisor exports no CPU/memory series for its pods rather than zeros.
 */

/** The controllers a pod is placed in; cpuacct and memory are read, cpu is where a CPU limit would go. */
export const POD_CONTROLLERS = ['cpu', 'cpuacct', 'memory'] as const;
export type PodController = (typeof POD_CONTROLLERS)[number];

export type CgroupSupport =
  | {
      ok: true;
      bases: Record<PodController, string>;
      /** The bases' path inside the cpuacct hierarchy: the start of cAdvisor's `id` label. */
      idBase: string;
    }
  | { ok: false; reason: string };

/** The short id of a supervisor's stack (its data dir), so two stacks on one host never share cgroups. */
export function stackId(dataDir: string): string {
  return createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12);
}

/** Where each v1 controller is mounted (co-mounted ones, e.g. `cpu,cpuacct`, share one directory). */
function v1Mounts(): Map<string, string> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    // mountinfo: ... <mount point> <options> ... - <fstype> <source> <super options>
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const [fstype, , superOpts] = post.split(' ');
    if (fstype !== 'cgroup' || !superOpts) continue;
    const mountPoint = pre.split(' ')[4];
    if (!mountPoint) continue;
    for (const opt of superOpts.split(',')) {
      if ((POD_CONTROLLERS as readonly string[]).includes(opt) && !out.has(opt)) out.set(opt, mountPoint);
    }
  }
  return out;
}

/** This process's cgroup path per v1 controller, from /proc/self/cgroup ("4:memory:/a/b"). */
function ownPaths(): Map<string, string> {
  const out = new Map<string, string>();
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const m = /^\d+:([^:]*):(.*)$/.exec(line);
      if (!m || !m[1]) continue;
      for (const c of m[1].split(',')) out.set(c, m[2] ?? '/');
    }
  } catch {
    // no /proc: detectCgroups reports it
  }
  return out;
}

/**
 * Finds the v1 hierarchies and makes (and tests) `faultline/<stack>` under this process's own cgroup in each.
 * Never throws: the reason is returned so the supervisor can say it once.
 */
export function detectCgroups(dataDir: string): CgroupSupport {
  const mounts = v1Mounts();
  const own = ownPaths();
  const missing = POD_CONTROLLERS.filter((c) => !mounts.has(c));
  if (missing.length > 0) {
    const v2 = own.get('') !== undefined && mounts.size === 0;
    return {
      ok: false,
      reason:
        `no cgroup v1 hierarchy for ${missing.join(', ')}` +
        (v2 ? ' (this host has cgroup v2 only, which the local supervisor does not drive yet)' : ''),
    };
  }
  const bases = {} as Record<PodController, string>;
  const idBase = path.join(own.get('cpuacct') ?? '/', 'faultline', stackId(dataDir));
  for (const c of POD_CONTROLLERS) {
    const mount = mounts.get(c) as string;
    const base = path.join(mount, own.get(c) ?? '/', 'faultline', stackId(dataDir));
    try {
      mkdirSync(base, { recursive: true });
      accessSync(path.join(base, 'cgroup.procs'), constants.W_OK);
    } catch (err) {
      return {
        ok: false,
        reason: `cannot create cgroups under ${path.dirname(base)} (${(err as NodeJS.ErrnoException).code ?? String(err)}; the supervisor must run as root with the v1 hierarchies writable)`,
      };
    }
    bases[c] = base;
  }
  return { ok: true, bases, idBase };
}

/** The pod's cgroup directory in each controller (deduplicated: co-mounted controllers share one). */
export function podCgroupDirs(bases: Record<PodController, string>, pod: string): string[] {
  return [...new Set(POD_CONTROLLERS.map((c) => path.join(bases[c], pod)))];
}

export function createPodCgroups(bases: Record<PodController, string>, pod: string): string[] {
  const dirs = podCgroupDirs(bases, pod);
  for (const d of dirs) mkdirSync(d, { recursive: true });
  return dirs;
}

/**
 * A command line that runs `command args` inside `dirs` from its first instruction: a shell joins the cgroups
 * with its own pid, then execs the command (same pid), so every byte the command allocates and every child it
 * forks is charged there (v1 does not move earlier charges with a task). Exit 97 if a cgroup cannot be joined.
 */
export function execInCgroups(dirs: string[], command: string, args: string[]): { command: string; args: string[] } {
  const script =
    'IFS=:; for d in $FAULTLINE_CGROUP_DIRS; do ' +
    'echo $$ > "$d/cgroup.procs" || { echo "faultline: cannot join cgroup $d" >&2; exit 97; }; done; unset IFS; exec "$@"';
  return { command: '/bin/sh', args: ['-c', script, 'sh', command, ...args] };
}

/** The environment execInCgroups' shell reads. Paths hold no ':' (we make them). */
export function cgroupEnv(dirs: string[]): Record<string, string> {
  return { FAULTLINE_CGROUP_DIRS: dirs.join(':') };
}

export function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Removes a pod's cgroups, as a runtime does when a container ends: whatever still runs in them (a stress
 * process charged to the pod, a child the pod forked) is killed first. Returns true once every directory is gone;
 * a process that has not exited yet keeps its cgroup busy, so callers retry.
 */
export function removePodCgroups(dirs: string[]): boolean {
  let gone = true;
  for (const d of dirs) {
    for (const pid of cgroupPids(d)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    try {
      rmdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') gone = false;
    }
  }
  return gone;
}

/** Retries removePodCgroups until the killed processes have left (bounded); false if something stayed. */
export async function removePodCgroupsWait(dirs: string[], timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!removePodCgroups(dirs)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Pod cgroup directories left under a stack's bases (a supervisor that died did not remove them). */
export function leftoverPodCgroups(bases: Record<PodController, string>): string[] {
  const out: string[] = [];
  for (const base of new Set(Object.values(bases))) {
    try {
      for (const e of readdirSync(base, { withFileTypes: true }))
        if (e.isDirectory()) out.push(path.join(base, e.name));
    } catch {
      // no base yet
    }
  }
  return out;
}

/** What cAdvisor reads for a container: CPU seconds (cpuacct.usage) and memory (usage, working set). */
export interface PodUsage {
  cpuSeconds: number;
  memoryUsageBytes: number;
  /** usage − total_inactive_file, floored at 0: cAdvisor's container_memory_working_set_bytes on v1. */
  workingSetBytes: number;
}

function statField(stat: string, key: string): number | undefined {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(stat);
  return m ? Number(m[1]) : undefined;
}

export function readPodUsage(bases: Record<PodController, string>, pod: string): PodUsage | undefined {
  try {
    const cpuNs = Number(readFileSync(path.join(bases.cpuacct, pod, 'cpuacct.usage'), 'utf8').trim());
    const usage = Number(readFileSync(path.join(bases.memory, pod, 'memory.usage_in_bytes'), 'utf8').trim());
    const stat = readFileSync(path.join(bases.memory, pod, 'memory.stat'), 'utf8');
    const inactive = statField(stat, 'total_inactive_file') ?? statField(stat, 'inactive_file') ?? 0;
    return { cpuSeconds: cpuNs / 1e9, memoryUsageBytes: usage, workingSetBytes: Math.max(0, usage - inactive) };
  } catch {
    return undefined; // the pod's cgroup is gone (it just died): no sample, not a zero
  }
}

/** Removes a stack's (empty) base directories and `faultline/` above them when no other stack uses it. */
export function removeStackCgroups(bases: Record<PodController, string>): void {
  for (const base of new Set(Object.values(bases))) {
    for (const d of [base, path.dirname(base)]) {
      try {
        rmdirSync(d);
      } catch {
        break; // still in use (a pod left, another stack): keep it
      }
    }
  }
}
