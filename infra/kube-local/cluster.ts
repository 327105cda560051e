import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { faultlineHome } from '../home';
import { alive, withLock } from '../local/stack';
import { BootstrapApi } from './api';
import { CHAOS_MESH_CRD_FILE, CHAOS_MESH_CRD_JSON, defaultBinDir, requireBinaries } from './bins';
import { ensurePki, pkiPaths } from './certs';
import {
  CLUSTER_PORT_SPAN,
  COMPONENT_NAMES,
  DEFAULT_BASE_PORT,
  clusterPorts,
  planComponents,
  prometheusConfigFor,
  type ClusterPorts,
} from './components';
import { KWOK_CRD_FILE, applyCrds, crdsServed, loadCrds } from './crds';
import { ClusterError } from './errors';
import { writeKubeconfig } from './kubeconfig';
import {
  CLUSTER_MARKER,
  OWNER_MARKER,
  checkPortsFree,
  reapMarked,
  reapOrphans,
  spawnComponent,
  stopComponents,
  waitHealthy,
  type ComponentRecord,
  type ComponentSpec,
  type Started,
} from './processes';
import { nodeObject, stagesDir, writeKwokConfig } from './stages';

export { ClusterError } from './errors';
export { CLUSTER_PORT_SPAN, DEFAULT_BASE_PORT } from './components';

/** The one simulated node's name. */
export const NODE_NAME = 'kwok-node-0';

export interface ClusterUpOptions {
  /** Where the cluster keeps its state, certificates, kubeconfig and logs. Default <FAULTLINE_HOME>/cluster. */
  dir?: string;
  /** Where build.sh put the binaries (default: $FAULTLINE_KUBE_BIN or build.sh's cache dir). */
  binDir?: string;
  /** Ports basePort … basePort + CLUSTER_PORT_SPAN - 1 (default DEFAULT_BASE_PORT: the API server on 17443). */
  basePort?: number;
  /** Also run node-exporter and a Prometheus that scrapes it and kube-state-metrics. */
  prometheus?: boolean;
  /** That Prometheus's scrape interval (default 1s). */
  scrapeInterval?: string;
  /** Mark every process with this owner pid: a later `up` anywhere kills them once that process is gone (tests). */
  ownerPid?: number;
  /** A line per step. */
  onProgress?: (line: string) => void;
  /** Start-up deadline (default 120 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ComponentStatus {
  name: string;
  address: string;
  pid?: number;
  running: boolean;
  healthy: boolean;
  log: string;
}

/** Everything a client needs to use the cluster. Plain JSON. */
export interface ClusterInfo {
  dir: string;
  /** Admin kubeconfig (client certificate in group system:masters), certificates embedded. */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** The cluster CA (serving certificates of the API server, kwok, Chaos Mesh's webhook). */
  caPath: string;
  clientCertPath: string;
  clientKeyPath: string;
  binDir: string;
  basePort: number;
  ports: ClusterPorts;
  nodeName: string;
  /** kube-state-metrics' metrics endpoint, http://127.0.0.1:<port>/metrics */
  ksmUrl: string;
  /** Set when started with `prometheus: true`. */
  prometheusUrl?: string;
  nodeExporterUrl?: string;
  components: ComponentStatus[];
  /** A healthy running cluster was found and reused. */
  reused: boolean;
  /** Time `clusterUp` took. */
  readyMs: number;
}

interface StateFile {
  version: 1;
  hash: string;
  basePort: number;
  binDir: string;
  prometheus: boolean;
  scrapeInterval: string;
  components: ComponentRecord[];
  info?: Omit<ClusterInfo, 'components' | 'reused' | 'readyMs'>;
}

export function defaultClusterDir(home = faultlineHome()): string {
  return path.join(home, 'cluster');
}

const statePath = (dir: string) => path.join(dir, 'cluster.json');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readState(dir: string): StateFile | undefined {
  try {
    const s = JSON.parse(readFileSync(statePath(dir), 'utf8')) as StateFile;
    return s.version === 1 ? s : undefined;
  } catch {
    return undefined;
  }
}

function writeState(dir: string, s: StateFile): void {
  const tmp = `${statePath(dir)}.tmp`;
  writeFileSync(tmp, JSON.stringify(s, null, 1));
  renameSync(tmp, statePath(dir));
}

function stagesText(): string {
  const dir = stagesDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    .join('\n---\n');
}

interface Layout {
  dir: string;
  binDir: string;
  basePort: number;
  ports: ClusterPorts;
  prometheus: boolean;
  scrapeInterval: string;
  kubeconfig: string;
  kwokConfig: string;
  promConfig: string;
  logDir: string;
}

function layout(dir: string, binDir: string, basePort: number, prometheus: boolean, scrapeInterval: string): Layout {
  return {
    dir,
    binDir,
    basePort,
    ports: clusterPorts(basePort),
    prometheus,
    scrapeInterval,
    kubeconfig: path.join(dir, 'kubeconfig'),
    kwokConfig: path.join(dir, 'kwok.yaml'),
    promConfig: path.join(dir, 'prometheus.yml'),
    logDir: path.join(dir, 'logs'),
  };
}

function specsFor(l: Layout, api: () => BootstrapApi): ComponentSpec[] {
  return planComponents({
    dir: l.dir,
    binDir: l.binDir,
    ports: l.ports,
    pki: pkiPaths(l.dir),
    kubeconfig: l.kubeconfig,
    kwokConfig: l.kwokConfig,
    api,
    ...(l.prometheus ? { prometheus: { scrapeInterval: l.scrapeInterval, configFile: l.promConfig } } : {}),
  });
}

function apiFor(l: Layout): BootstrapApi {
  const pki = pkiPaths(l.dir);
  return new BootstrapApi(`https://127.0.0.1:${l.ports.apiserver}`, {
    caCert: pki.caCert,
    clientCert: pki.adminCert,
    clientKey: pki.adminKey,
  });
}

function infoOf(l: Layout): NonNullable<StateFile['info']> {
  const pki = pkiPaths(l.dir);
  return {
    dir: l.dir,
    kubeconfigPath: l.kubeconfig,
    server: `https://127.0.0.1:${l.ports.apiserver}`,
    caPath: pki.caCert,
    clientCertPath: pki.adminCert,
    clientKeyPath: pki.adminKey,
    binDir: l.binDir,
    basePort: l.basePort,
    ports: l.ports,
    nodeName: NODE_NAME,
    ksmUrl: `http://127.0.0.1:${l.ports.kubeStateMetrics}/metrics`,
    ...(l.prometheus
      ? {
          prometheusUrl: `http://127.0.0.1:${l.ports.prometheus}`,
          nodeExporterUrl: `http://127.0.0.1:${l.ports.nodeExporter}/metrics`,
        }
      : {}),
  };
}

async function statuses(state: StateFile, specs: ComponentSpec[]): Promise<ComponentStatus[]> {
  return Promise.all(
    specs.map(async (spec) => {
      const rec = state.components.find((c) => c.name === spec.name);
      const running = alive(rec);
      const s: ComponentStatus = {
        name: spec.name,
        address: spec.address,
        running,
        healthy: running
          ? await Promise.resolve()
              .then(() => spec.health())
              .catch(() => false)
          : false,
        log: rec?.log ?? '',
      };
      if (running && rec) s.pid = rec.pid;
      return s;
    }),
  );
}

/** Stops what the state file records (clients first, then the API server, then etcd) and anything marked. */
async function stopAll(dir: string, state: StateFile | undefined): Promise<string[]> {
  const recs = state?.components ?? [];
  const stopped = recs.filter((r) => alive(r)).map((r) => r.name);
  const tier = (r: ComponentRecord) => (r.name === 'etcd' ? 2 : r.name === 'kube-apiserver' ? 1 : 0);
  for (const t of [0, 1, 2]) await stopComponents(recs.filter((r) => tier(r) === t));
  await reapMarked(dir);
  rmSync(statePath(dir), { force: true });
  return stopped;
}

async function until(
  what: string,
  check: () => Promise<boolean>,
  deadlineMs: number,
  signal: AbortSignal,
  everyMs = 100,
): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    if (await check().catch(() => false)) return;
    if (Date.now() > deadlineMs) throw new ClusterError(`${what}: not reached in time`);
    await sleep(everyMs);
  }
}

/**
 * Starts the local Kubernetes control plane on 127.0.0.1 (etcd, kube-apiserver, controller-manager, scheduler,
 * kwok with one simulated node, kube-state-metrics, the Chaos Mesh CRDs and controller manager; optionally
 * node-exporter + Prometheus) and resolves once all of it is ready. A healthy cluster already running in `dir`
 * with the same settings is reused; anything else there (a broken or differently configured cluster, processes
 * a crash left behind) is stopped first and the cluster starts afresh (empty etcd; certificates are kept).
 */
export async function clusterUp(opts: ClusterUpOptions = {}): Promise<ClusterInfo> {
  const t0 = Date.now();
  const dir = path.resolve(opts.dir ?? defaultClusterDir());
  const progress = opts.onProgress ?? (() => undefined);
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  mkdirSync(dir, { recursive: true });
  const reaped = await reapOrphans();
  if (reaped.length) progress(`killed ${reaped.length} cluster processes whose owner is gone`);
  return withLock(dir, opts.signal, async () => {
    const binDir = path.resolve(opts.binDir ?? defaultBinDir());
    requireBinaries(binDir);
    const basePort = opts.basePort ?? DEFAULT_BASE_PORT;
    if (!Number.isInteger(basePort) || basePort < 1024 || basePort + CLUSTER_PORT_SPAN > 65535) {
      throw new ClusterError(`base port ${basePort} must leave ${CLUSTER_PORT_SPAN} ports between 1024 and 65535`);
    }
    const l = layout(dir, binDir, basePort, opts.prometheus === true, opts.scrapeInterval ?? '1s');
    const hash = createHash('sha256')
      .update(JSON.stringify([1, binDir, basePort, l.prometheus, l.scrapeInterval, stagesText()]))
      .digest('hex')
      .slice(0, 16);

    const previous = readState(dir);
    if (previous?.hash === hash && previous.info) {
      const api = apiFor(l);
      try {
        const comps = await statuses(
          previous,
          specsFor(l, () => api),
        );
        if (comps.every((c) => c.healthy)) {
          progress(`cluster in ${dir} is running and healthy: reused`);
          return { ...previous.info, components: comps, reused: true, readyMs: Date.now() - t0 };
        }
        const bad = comps.filter((c) => !c.healthy).map((c) => `${c.name} ${c.running ? 'unhealthy' : 'not running'}`);
        progress(`cluster in ${dir} is broken (${bad.join(', ')}): replacing it`);
      } finally {
        api.close();
      }
    } else if (previous) {
      progress(`cluster in ${dir} was started with other settings: replacing it`);
    }
    const stopped = await stopAll(dir, previous);
    if (stopped.length) progress(`stopped ${stopped.join(', ')}`);
    rmSync(path.join(dir, 'etcd'), { recursive: true, force: true });
    rmSync(path.join(dir, 'prometheus'), { recursive: true, force: true });

    const api = apiFor0(l);
    const specs = specsFor(l, () => api.get());
    const spec = (n: string) => specs.find((s) => s.name === n) as ComponentSpec;
    await checkPortsFree(
      specs,
      opts.basePort === undefined
        ? `\`faultline cluster up --base-port N\` uses N…N+${CLUSTER_PORT_SPAN - 1}; default ${DEFAULT_BASE_PORT}`
        : `base port ${basePort} uses ${basePort}…${basePort + CLUSTER_PORT_SPAN - 1}`,
    );

    const markers: Record<string, string> = { [CLUSTER_MARKER]: dir };
    if (opts.ownerPid) markers[OWNER_MARKER] = String(opts.ownerPid);
    const state: StateFile = {
      version: 1,
      hash,
      basePort,
      binDir,
      prometheus: l.prometheus,
      scrapeInterval: l.scrapeInterval,
      components: [],
    };
    const started = new Map<string, Started>();
    const start = (name: string): Started => {
      const s = spawnComponent(spec(name), l.logDir, markers, hash);
      started.set(name, s);
      state.components.push(s.rec);
      writeState(dir, state);
      return s;
    };
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    const ac = new AbortController();
    const onAbort = () => ac.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const healthy = (name: string) => waitHealthy(spec(name), started.get(name) as Started, deadline, ac.signal);
    try {
      writeKwokConfig(l.kwokConfig);
      if (l.prometheus) writeFileSync(l.promConfig, prometheusConfigFor(l.ports, l.scrapeInterval));
      const pkiReady = ensurePki(dir);
      pkiReady.catch(() => undefined); // awaited below; an early failure must not leave it unhandled
      start('etcd');
      const pki = await pkiReady;
      await healthy('etcd');
      writeKubeconfig(l.kubeconfig, {
        server: `https://127.0.0.1:${l.ports.apiserver}`,
        caCert: pki.caCert,
        clientCert: pki.adminCert,
        clientKey: pki.adminKey,
      });
      start('kube-apiserver');
      // the CRDs' JSON form, converted once per machine (cached beside the bundle) while the API server starts
      const crdFile = path.join(binDir, CHAOS_MESH_CRD_FILE);
      const crdJson = path.join(binDir, CHAOS_MESH_CRD_JSON);
      loadCrds(crdFile, crdJson);
      await healthy('kube-apiserver');
      progress(`kube-apiserver ready (${elapsed()})`);
      const others = ['kube-controller-manager', 'kube-scheduler', 'kube-state-metrics'];
      if (l.prometheus) others.push('node-exporter', 'prometheus');
      for (const n of others) start(n);
      const a = api.get();
      const waits: Promise<unknown>[] = others.map((n) => healthy(n));
      waits.push(
        // kwok watches its PortForward/ClusterPortForward objects: their CRDs first
        (async () => {
          const crds = await applyCrds(a, KWOK_CRD_FILE);
          await until('kwok CRDs served', () => crdsServed(a, crds), deadline, ac.signal);
          start('kwok');
          await healthy('kwok');
        })(),
        (async () => {
          const crds = await applyCrds(a, crdFile, { jsonCache: crdJson });
          progress(`${crds.length} Chaos Mesh CRDs applied (${elapsed()})`);
          await until('Chaos Mesh CRDs served', () => crdsServed(a, crds), deadline, ac.signal);
          progress(`${crds.length} Chaos Mesh CRDs established (${elapsed()})`);
          start('chaos-controller-manager');
          await healthy('chaos-controller-manager');
          progress(`chaos-controller-manager's controllers running (${elapsed()})`);
        })(),
        (async () => {
          const res = await a.request('POST', '/api/v1/nodes', JSON.stringify(nodeObject(NODE_NAME)));
          if (res.status >= 300 && res.status !== 409) {
            throw new ClusterError(`creating node ${NODE_NAME}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
          }
          await until(`node ${NODE_NAME} Ready`, () => nodeReady(a, NODE_NAME), deadline, ac.signal);
          progress(`node ${NODE_NAME} Ready (${elapsed()})`);
        })(),
        until(
          'ServiceAccount default/default',
          () => a.ok('/api/v1/namespaces/default/serviceaccounts/default'),
          deadline,
          ac.signal,
        ),
      );
      await Promise.all(
        waits.map((w) =>
          w.catch((err: unknown) => {
            ac.abort(err);
            throw err;
          }),
        ),
      );
      state.info = infoOf(l);
      writeState(dir, state);
      const comps = await statuses(state, specs);
      progress(`cluster ready in ${elapsed()}`);
      return { ...state.info, components: comps, reused: false, readyMs: Date.now() - t0 };
    } catch (err) {
      ac.abort(err);
      await stopAll(dir, state).catch(() => undefined);
      if (err instanceof ClusterError) throw err;
      if (opts.signal?.aborted) throw err;
      throw new ClusterError(`cluster start failed: ${(err as Error).message}`, 'failed', { cause: err });
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      api.close();
    }
  });
}

/** The bootstrap client, made once the certificates exist (after ensurePki). */
function apiFor0(l: Layout): { get: () => BootstrapApi; close: () => void } {
  let api: BootstrapApi | undefined;
  return {
    get: () => (api ??= apiFor(l)),
    close: () => api?.close(),
  };
}

async function nodeReady(api: BootstrapApi, name: string): Promise<boolean> {
  const res = await api.request('GET', `/api/v1/nodes/${name}`, undefined, undefined, 3000);
  if (res.status !== 200) return false;
  const node = res.json<{ status?: { conditions?: { type: string; status: string }[] } }>();
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Stops every process of the cluster in `dir` and removes its etcd data. Idempotent; returns what it stopped. */
export async function clusterDown(opts: { dir?: string; signal?: AbortSignal } = {}): Promise<string[]> {
  const dir = path.resolve(opts.dir ?? defaultClusterDir());
  if (!existsSync(dir)) return [];
  return withLock(dir, opts.signal, async () => {
    const stopped = await stopAll(dir, readState(dir));
    rmSync(path.join(dir, 'etcd'), { recursive: true, force: true });
    rmSync(path.join(dir, 'prometheus'), { recursive: true, force: true });
    return stopped;
  });
}

export interface ClusterStatus {
  dir: string;
  /** Some component runs. */
  running: boolean;
  /** Every component runs and answers its health check. */
  healthy: boolean;
  components: ComponentStatus[];
  info?: NonNullable<StateFile['info']>;
}

/** Each component of the cluster in `dir` with its address, pid and health. */
export async function clusterStatus(opts: { dir?: string } = {}): Promise<ClusterStatus> {
  const dir = path.resolve(opts.dir ?? defaultClusterDir());
  const state = readState(dir);
  if (!state) return { dir, running: false, healthy: false, components: [] };
  const l = layout(dir, state.binDir, state.basePort, state.prometheus, state.scrapeInterval);
  const api = existsSync(pkiPaths(dir).adminKey) ? apiFor(l) : undefined;
  try {
    const specs = specsFor(l, () => {
      if (!api) throw new Error('no certificates');
      return api;
    });
    const comps = await statuses(
      state,
      specs.filter((s) => COMPONENT_NAMES.includes(s.name as never)),
    );
    return {
      dir,
      running: comps.some((c) => c.running),
      healthy: comps.length > 0 && comps.every((c) => c.healthy),
      components: comps,
      ...(state.info ? { info: state.info } : {}),
    };
  } finally {
    api?.close();
  }
}
