import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { openSync, closeSync, writeSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { PodInfo } from '../../../activities/deploy/types';
import type { AppSpec, SupervisorConfig } from './config';
import { GrpcHealthProbe, checkHttp } from './health';
import { POD_MARKER } from './state';
import {
  cgroupEnv,
  cgroupPids,
  createPodCgroups,
  execInCgroups,
  removePodCgroupsWait,
  type CgroupSupport,
} from './cgroups';

/** Kubernetes' name-suffix alphabet (no vowels, no ambiguous characters). */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function randomSuffix(n: number): string {
  const bytes = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[(bytes[i] ?? 0) % ALPHABET.length];
  return s;
}

/** The pod-template-hash: stable for an app's spec, like a ReplicaSet's. */
function templateHash(spec: AppSpec): string {
  const h = createHash('sha256')
    .update(JSON.stringify([spec.app, spec.command, spec.args, spec.env]))
    .digest();
  let s = '';
  for (let i = 0; i < 10; i++) s += ALPHABET[(h[i] ?? 0) % ALPHABET.length];
  return s;
}

interface Pod {
  name: string;
  uid: string;
  app: string;
  slot: number;
  port: number;
  metricsPort: number;
  phase: PodInfo['phase'];
  ready: boolean;
  restarts: number;
  reason?: string;
  createdAtMs: number;
  startedAtMs?: number;
  child?: ChildProcess;
  startTimer?: NodeJS.Timeout;
  /** When the pending pod's process is due to start (end of its back-off). */
  startAtMs: number;
  /** pod-failure holds: faultId → untilMs. While any is active the pod's process stays down. */
  holds: Map<string, { untilMs: number; timer: NodeJS.Timeout }>;
  failures: number;
  probe?: GrpcHealthProbe;
  probing: boolean;
  /** The pod's cgroup directories (one per v1 hierarchy), while they exist; they live as long as the pod. */
  cgroupDirs?: string[];
  /** container-kill: the running process was killed to be restarted in place (same pod, restarts + 1). */
  restartInPlace?: boolean;
  /** What the running process said it can do over the IPC channel (its `hello`), e.g. 'memory-leak'. */
  capabilities: Set<string>;
  /** memory-leak faults sent to the running process: faultId → what was asked (they die with the process). */
  leaks: Map<string, MemoryLeak>;
}

/** A memory-leak fault as the supervisor lists it (GET /memory-leaks). */
export interface MemoryLeak {
  faultId: string;
  sizeBytes: number;
  durationMs: number;
  startedAtMs: number;
  untilMs: number;
}

/** Bytes an active leak has grown to by `now` (linear over its duration). */
export function leakBytesAt(l: MemoryLeak, now = Date.now()): number {
  const share = l.durationMs > 0 ? Math.min(1, Math.max(0, now - l.startedAtMs) / l.durationMs) : 1;
  return Math.floor(l.sizeBytes * share);
}

/** A verb the pod cannot take in its current state (409), with the reason. */
export class PodStateError extends Error {}

interface Slot {
  spec: AppSpec;
  index: number;
  hash: string;
  pod: Pod;
  /** Deaths in a row without a stable run: the back-off exponent. */
  crashes: number;
  restarts: number;
}

export interface PodEvents {
  restart(app: string): void;
  changed(): void;
}

/**
 * ReplicaSet + kubelet for local processes. Every replica slot always has one pod object. When the pod's process
 * dies (SIGKILL from a chaos injector, a crash, an API kill) the slot gets a *new* pod (new name and uid, like a
 * pod-kill), which starts after an exponential back-off (base·2^n up to max, n = deaths in a row; reset after a
 * run of resetAfterMs) and shows `reason: 'CrashLoopBackOff'` while it waits. The slot's restart count carries over
 * to the new pod, so kube_pod_container_status_restarts_total summed per app never goes down.
 */
export class PodManager {
  private readonly slots: Slot[] = [];
  private readinessTimer?: NodeJS.Timeout;
  private stopping = false;
  private readonly logFds = new Map<string, number>();
  /** Pod cgroup removals still in progress (a killed process leaves its cgroup a moment later). */
  private readonly removals = new Set<Promise<void>>();

  constructor(
    private readonly config: SupervisorConfig,
    private readonly events: PodEvents,
    readonly cgroups: CgroupSupport = { ok: false, reason: 'not requested' },
  ) {}

  start(): void {
    mkdirSync(path.join(this.config.dataDir, 'logs'), { recursive: true });
    for (const spec of this.config.apps) {
      const hash = templateHash(spec);
      for (let i = 0; i < spec.replicas; i++) {
        const slot: Slot = { spec, index: i, hash, crashes: 0, restarts: 0, pod: undefined as unknown as Pod };
        slot.pod = this.newPod(slot, 0, undefined);
        this.slots.push(slot);
      }
    }
    this.readinessTimer = setInterval(() => this.probeAll(), this.config.readiness.periodMs);
    this.events.changed();
  }

  private newPod(slot: Slot, delayMs: number, reason: string | undefined): Pod {
    const ports = slot.spec.podPorts[slot.index];
    if (!ports) throw new Error(`no ports for ${slot.spec.app} slot ${slot.index}`);
    const pod: Pod = {
      name: `${slot.spec.app}-${slot.hash}-${randomSuffix(5)}`,
      uid: randomUUID(),
      app: slot.spec.app,
      slot: slot.index,
      port: ports.port,
      metricsPort: ports.metricsPort,
      phase: 'Pending',
      ready: false,
      restarts: slot.restarts,
      reason: reason ?? 'ContainerCreating',
      createdAtMs: Date.now(),
      holds: new Map(),
      failures: 0,
      probing: false,
      startAtMs: Date.now() + delayMs,
      capabilities: new Set(),
      leaks: new Map(),
    };
    pod.startTimer = setTimeout(() => this.spawnPod(slot, pod), delayMs);
    return pod;
  }

  private logFd(app: string): number {
    let fd = this.logFds.get(app);
    if (fd === undefined) {
      fd = openSync(path.join(this.config.dataDir, 'logs', `${app}.log`), 'a');
      this.logFds.set(app, fd);
    }
    return fd;
  }

  private spawnPod(slot: Slot, pod: Pod): void {
    pod.startTimer = undefined;
    if (this.stopping || slot.pod !== pod || pod.holds.size > 0 || pod.child) return;
    const spec = slot.spec;
    const fd = this.logFd(spec.app);
    writeSync(fd, `--- ${new Date().toISOString()} pod ${pod.name} starting (restarts ${pod.restarts})\n`);
    let command = spec.command;
    let args = spec.args;
    let cgEnv: Record<string, string> = {};
    if (this.cgroups.ok) {
      try {
        pod.cgroupDirs ??= createPodCgroups(this.cgroups.bases, pod.name);
        ({ command, args } = execInCgroups(pod.cgroupDirs, spec.command, spec.args));
        cgEnv = cgroupEnv(pod.cgroupDirs);
      } catch (err) {
        writeSync(fd, `--- pod ${pod.name}: no cgroup (${(err as Error).message}); it runs unmeasured\n`);
        pod.cgroupDirs = undefined;
      }
    }
    const routeEnv: Record<string, string> = {};
    for (const r of spec.routes ?? []) routeEnv[r.env] = `${this.config.host}:${r.port}`;
    const child = spawn(command, args, {
      env: {
        ...process.env,
        ...spec.env,
        ...routeEnv,
        ...cgEnv,
        PORT: String(pod.port),
        METRICS_PORT: String(pod.metricsPort),
        POD_NAME: pod.name,
        POD_UID: pod.uid,
        POD_NAMESPACE: this.config.namespace,
        APP_NAME: spec.app,
        // lets a later supervisor find this pod if this one dies before its state file names it
        [POD_MARKER]: path.resolve(this.config.dataDir),
      },
      // fd 3: an IPC channel for the verbs that act inside the process (memory-leak); a boutique process
      // announces them with a `hello`, any other program just never answers
      stdio: ['ignore', fd, fd, 'ipc'],
    });
    pod.child = child;
    pod.capabilities = new Set();
    pod.leaks = new Map();
    child.on('message', (raw: unknown) => {
      const m = raw as { type?: unknown; capabilities?: unknown } | null;
      if (pod.child === child && m?.type === 'hello' && Array.isArray(m.capabilities)) {
        for (const c of m.capabilities) if (typeof c === 'string') pod.capabilities.add(c);
      }
    });
    // a channel write to a process that just died must not take the supervisor down
    child.on('error', () => undefined);
    pod.phase = 'Running';
    pod.reason = undefined;
    pod.ready = false;
    pod.failures = 0;
    pod.startedAtMs = Date.now();
    child.on('error', (err) => {
      writeSync(fd, `--- pod ${pod.name} failed to start: ${err.message}\n`);
    });
    child.on('exit', (code, signal) => this.onExit(slot, pod, child, code, signal));
    this.events.changed();
  }

  private onExit(slot: Slot, pod: Pod, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (pod.child !== child) return;
    pod.child = undefined;
    pod.ready = false;
    pod.capabilities = new Set();
    pod.leaks = new Map();
    const inPlace = pod.restartInPlace === true;
    pod.restartInPlace = false;
    pod.probe?.close();
    pod.probe = undefined;
    if (this.stopping) return;
    try {
      writeSync(this.logFd(slot.spec.app), `--- pod ${pod.name} exited (code ${code}, signal ${signal})\n`);
    } catch {
      // the log is best-effort
    }
    if (pod.holds.size > 0) {
      // pod-failure: the pod stays (same name), its container down until the hold ends; the pod's cgroup stays
      // too (kept for the restart in place), emptied of anything the container left behind.
      this.emptyCgroups(pod);
      pod.phase = 'Running';
      pod.reason = 'PodFailure';
      this.events.changed();
      return;
    }
    if (inPlace) {
      // container-kill: the kubelet restarts the container in the same pod (name, uid and cgroup kept)
      this.emptyCgroups(pod);
      slot.restarts++;
      pod.restarts = slot.restarts;
      this.events.restart(slot.spec.app);
      this.spawnPod(slot, pod);
      return;
    }
    const ranMs = Date.now() - (pod.startedAtMs ?? Date.now());
    if (ranMs >= this.config.backoff.resetAfterMs) slot.crashes = 0;
    const delay = Math.min(this.config.backoff.maxMs, this.config.backoff.baseMs * 2 ** slot.crashes);
    slot.crashes++;
    slot.restarts++;
    pod.phase = 'Failed';
    this.dropCgroups(pod);
    this.events.restart(slot.spec.app);
    slot.pod = this.newPod(slot, delay, 'CrashLoopBackOff');
    this.events.changed();
  }

  /** Kills whatever the pod's dead container left in its cgroups (kept for a restart in place). */
  private emptyCgroups(pod: Pod): void {
    for (const d of pod.cgroupDirs ?? []) {
      for (const pid of cgroupPids(d)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }

  /** The pod is gone: its cgroups go too, with whatever still runs in them (a stress charged to the pod). */
  private dropCgroups(pod: Pod): void {
    const dirs = pod.cgroupDirs;
    if (!dirs) return;
    pod.cgroupDirs = undefined;
    const removal = removePodCgroupsWait(dirs).then((gone) => {
      if (!gone) this.log(pod.app, `pod ${pod.name}: cgroup still busy after 5 s, left: ${dirs.join(' ')}`);
      this.removals.delete(removal);
    });
    this.removals.add(removal); // stop() waits for it, so the stack's directory can go too
  }

  private log(app: string, line: string): void {
    try {
      writeSync(this.logFd(app), `--- ${line}\n`);
    } catch {
      // the log is best-effort
    }
  }

  private probeAll(): void {
    const { timeoutMs, failureThreshold } = this.config.readiness;
    for (const slot of this.slots) {
      const pod = slot.pod;
      if (!pod.child || pod.probing) continue;
      pod.probing = true;
      let check: Promise<boolean>;
      if (slot.spec.protocol === 'grpc') {
        pod.probe ??= new GrpcHealthProbe(`127.0.0.1:${pod.port}`);
        check = pod.probe.check(timeoutMs);
      } else {
        check = checkHttp(`http://127.0.0.1:${pod.port}${slot.spec.healthPath ?? '/_healthz'}`, timeoutMs);
      }
      check
        .then((ok) => {
          pod.probing = false;
          if (!pod.child) return;
          const was = pod.ready;
          if (ok) {
            pod.failures = 0;
            pod.ready = true;
          } else if (++pod.failures >= failureThreshold || !pod.ready) {
            pod.ready = false;
          }
          if (was !== pod.ready) this.events.changed();
        })
        .catch(() => {
          pod.probing = false;
        });
    }
  }

  info(pod: Pod): PodInfo {
    const info: PodInfo = {
      name: pod.name,
      uid: pod.uid,
      namespace: this.config.namespace,
      labels: { app: pod.app, 'pod-template-hash': this.slots.find((s) => s.pod === pod)?.hash ?? '' },
      phase: pod.phase,
      ready: pod.ready,
      restarts: pod.restarts,
      createdAtMs: pod.createdAtMs,
    };
    if (pod.reason !== undefined) info.reason = pod.reason;
    if (pod.startedAtMs !== undefined && pod.child) info.startedAtMs = pod.startedAtMs;
    return info;
  }

  pods(): PodInfo[] {
    return this.slots.map((s) => this.info(s.pod));
  }

  /** Internal view for the SD endpoint, state file and metrics. */
  podDetails(): {
    info: PodInfo;
    pid?: number;
    port: number;
    metricsPort: number;
    spec: AppSpec;
    cgroupDirs?: string[];
  }[] {
    return this.slots.map((s) => ({
      info: this.info(s.pod),
      pid: s.pod.child?.pid,
      port: s.pod.port,
      metricsPort: s.pod.metricsPort,
      spec: s.spec,
      cgroupDirs: s.pod.cgroupDirs,
    }));
  }

  /** The running pod's cgroup directories (where a stress fault on it is charged); undefined without cgroups. */
  cgroupDirs(name: string): string[] | undefined {
    const pod = this.find(name)?.pod;
    return pod?.child ? pod.cgroupDirs : undefined;
  }

  private find(name: string): Slot | undefined {
    return this.slots.find((s) => s.pod.name === name);
  }

  get(name: string): PodInfo | undefined {
    const s = this.find(name);
    return s ? this.info(s.pod) : undefined;
  }

  pid(name: string): number | undefined {
    return this.find(name)?.pod.child?.pid;
  }

  readyPorts(app: string): number[] {
    return this.slots.filter((s) => s.spec.app === app && s.pod.ready && s.pod.child).map((s) => s.pod.port);
  }

  podAt(app: string, port: number): string | undefined {
    return this.slots.find((s) => s.spec.app === app && s.pod.port === port)?.pod.name;
  }

  /** pod-kill. A pod still waiting to start is deleted and replaced (its back-off keeps running). */
  kill(name: string, signal: 'SIGKILL' | 'SIGTERM'): PodInfo | undefined {
    const slot = this.find(name);
    if (!slot) return undefined;
    const pod = slot.pod;
    const before = this.info(pod);
    if (pod.child) {
      if (signal === 'SIGTERM') pod.child.kill('SIGCONT');
      pod.child.kill(signal);
    } else if (pod.startTimer && pod.holds.size === 0) {
      clearTimeout(pod.startTimer);
      const remaining = Math.max(0, pod.startAtMs - Date.now());
      slot.pod = this.newPod(slot, remaining, pod.reason);
      this.events.changed();
    }
    return before;
  }

  /** pod-failure: kill and keep the pod's process down until untilMs or release. Idempotent by faultId. */
  hold(name: string, faultId: string, untilMs: number): PodInfo | undefined {
    const slot = this.find(name);
    if (!slot) return undefined;
    const pod = slot.pod;
    if (untilMs <= Date.now() || pod.holds.has(faultId)) return this.info(pod);
    const timer = setTimeout(() => this.release(name, faultId), untilMs - Date.now());
    pod.holds.set(faultId, { untilMs, timer });
    pod.ready = false;
    pod.reason = 'PodFailure';
    if (pod.startTimer) {
      clearTimeout(pod.startTimer);
      pod.startTimer = undefined;
    }
    pod.child?.kill('SIGKILL');
    this.events.changed();
    return this.info(pod);
  }

  /** Ends a hold; when none is left the pod's container restarts in place (restarts + 1). */
  release(name: string, faultId: string): boolean {
    const slot = this.find(name);
    const hold = slot?.pod.holds.get(faultId);
    if (!slot || !hold) return false;
    clearTimeout(hold.timer);
    const pod = slot.pod;
    pod.holds.delete(faultId);
    if (pod.holds.size === 0 && !pod.child && !pod.startTimer && !this.stopping) {
      slot.restarts++;
      pod.restarts = slot.restarts;
      this.events.restart(slot.spec.app);
      this.spawnPod(slot, pod);
    }
    this.events.changed();
    return true;
  }

  /**
   * container-kill: SIGKILL the pod's process and start it again in the same pod (name, uid, cgroup), restarts + 1,
   * at once (the kubelet's first restart has no back-off). Undefined for an unknown pod.
   */
  restart(name: string): PodInfo | undefined {
    const slot = this.find(name);
    if (!slot) return undefined;
    const pod = slot.pod;
    if (!pod.child) {
      throw new PodStateError(`pod ${name} has no running container to kill (${pod.reason ?? pod.phase})`);
    }
    const before = this.info(pod);
    pod.restartInPlace = true;
    pod.ready = false;
    pod.child.kill('SIGCONT');
    pod.child.kill('SIGKILL');
    this.events.changed();
    return before;
  }

  /**
   * memory-leak: tells the pod's process to grow its own memory to sizeBytes over durationMs and hold it until
   * untilMs (it frees by itself then) or stopLeak. Idempotent by faultId. Only processes that announced the
   * capability (the boutique stand-ins) can; others get a PodStateError naming why.
   */
  startLeak(name: string, leak: Omit<MemoryLeak, 'startedAtMs'>): MemoryLeak | undefined {
    const pod = this.find(name)?.pod;
    if (!pod) return undefined;
    const child = pod.child;
    if (!child) throw new PodStateError(`pod ${name} has no running process`);
    if (!pod.capabilities.has('memory-leak')) {
      throw new PodStateError(
        `pod ${name} (${pod.app}) cannot leak memory: its process did not announce the memory-leak capability on ` +
          'the supervisor channel (only the boutique stand-ins do, once serving)',
      );
    }
    const known = pod.leaks.get(leak.faultId);
    if (known) return known;
    const entry: MemoryLeak = { ...leak, startedAtMs: Date.now() };
    pod.leaks.set(leak.faultId, entry);
    child.send({ type: 'memory-leak', ...leak });
    return entry;
  }

  /** Frees a leak now; true when one was active. */
  stopLeak(name: string, faultId: string): boolean {
    const pod = this.find(name)?.pod;
    const entry = pod?.leaks.get(faultId);
    if (!pod || !entry) return false;
    pod.leaks.delete(faultId);
    if (pod.child?.connected) pod.child.send({ type: 'memory-leak-stop', faultId });
    return entry.untilMs > Date.now();
  }

  /** Active leaks of every running pod (expired ones are dropped here: the process freed them itself). */
  leaks(): (MemoryLeak & { pod: string; app: string; bytesNow: number })[] {
    const now = Date.now();
    const out: (MemoryLeak & { pod: string; app: string; bytesNow: number })[] = [];
    for (const s of this.slots) {
      for (const [id, l] of s.pod.leaks) {
        if (l.untilMs <= now) s.pod.leaks.delete(id);
        else out.push({ ...l, pod: s.pod.name, app: s.spec.app, bytesNow: leakBytesAt(l, now) });
      }
    }
    return out;
  }

  signal(name: string, signal: 'SIGSTOP' | 'SIGCONT'): boolean {
    const child = this.find(name)?.pod.child;
    if (!child) return false;
    return child.kill(signal);
  }

  /** Stops every pod: SIGCONT + SIGTERM, SIGKILL after graceMs. */
  async stop(graceMs = 3000): Promise<void> {
    this.stopping = true;
    if (this.readinessTimer) clearInterval(this.readinessTimer);
    const waits: Promise<void>[] = [];
    for (const slot of this.slots) {
      const pod = slot.pod;
      if (pod.startTimer) clearTimeout(pod.startTimer);
      for (const h of pod.holds.values()) clearTimeout(h.timer);
      pod.probe?.close();
      const child = pod.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) continue;
      waits.push(
        new Promise<void>((resolve) => {
          const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
          child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          child.kill('SIGCONT');
          child.kill('SIGTERM');
        }),
      );
    }
    await Promise.all(waits);
    await Promise.all([...this.removals]);
    await Promise.all(
      this.slots.map(async (slot) => {
        const dirs = slot.pod.cgroupDirs;
        slot.pod.cgroupDirs = undefined;
        if (dirs && !(await removePodCgroupsWait(dirs))) this.log(slot.spec.app, `cgroup left: ${dirs.join(' ')}`);
      }),
    );
    for (const fd of this.logFds.values()) closeSync(fd);
    this.logFds.clear();
  }
}
