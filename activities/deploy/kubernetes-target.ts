import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PatchStrategy, type KubeConfig, type KubernetesObject, type V1Namespace } from '@kubernetes/client-node';
import { parseDuration } from '../../schemas/duration';
import type { KubernetesTargetConfig } from '../../schemas/target';
import {
  KubeClient,
  abortableSleep,
  header,
  loadKubeConfig,
  op,
  type ApiResource,
  type KubeConfigSource,
  type RetryPolicy,
  type WatchEvent,
} from './kube-client';
import {
  ChaosMeshNotInstalledError,
  KubeApiError,
  KubeForbiddenError,
  ManifestError,
  NamespaceNotAllowedError,
  PortForwardError,
  RolloutFailedError,
  RolloutTimeoutError,
  type KubeOperation,
} from './kube-errors';
import {
  CAMPAIGN_LABEL,
  FIELD_MANAGER,
  campaignLabelValue,
  isObject,
  labelSelector,
  parseManifest,
  rolloutState,
  toPodInfo,
  withCampaignLabel,
  type KubeObject,
  type ObjectRef,
} from './kube-objects';
import {
  PORT_FORWARD_PERMISSIONS,
  acquireForward,
  clusterServiceOf,
  reachable,
  releaseForwards,
} from './kube-port-forward';
import type { Target } from './target';
import type { PodInfo, TargetEndpoints } from './types';

/** Chaos Mesh API group/version and the kinds faultline creates. */
export const CHAOS_MESH_API_VERSION = 'chaos-mesh.org/v1alpha1';
export const CHAOS_MESH_GROUP = 'chaos-mesh.org';
export const CHAOS_MESH_PLURALS = ['podchaos', 'networkchaos', 'stresschaos', 'httpchaos', 'workflows'] as const;
/** Workflow: memory-leak's growing sequence of StressChaos (its children are removed by the garbage collector). */
export const CHAOS_MESH_KINDS = ['PodChaos', 'NetworkChaos', 'StressChaos', 'HTTPChaos', 'Workflow'] as const;

/** The upstream manifest's Locust Deployment (and its ServiceAccount): out of the deploy and the fault targets unless target.loadGenerator. */
export const LOAD_GENERATOR_APP = 'loadgenerator';

/**
 * Every (group, resource, verbs) this class uses, by scope. infra/k8s/rbac grants exactly `cluster` and
 * `namespaced` (test/k8s-manifests.test.ts checks that the RBAC and this list agree; the real-cluster test runs
 * a campaign's calls as that service account and checks each granted verb is used).
 */
export const KUBE_PERMISSIONS = {
  /** ClusterRole: namespaces are cluster-scoped; deploy and teardown read the target namespace. */
  cluster: [{ group: '', resource: 'namespaces', verbs: ['get'] }],
  /** Only when the target namespace does not exist yet: created at deploy, deleted at teardown (not granted by infra/k8s, which creates it). */
  clusterIfNamespaceMissing: [{ group: '', resource: 'namespaces', verbs: ['create', 'delete'] }],
  /** Role in the target namespace. */
  namespaced: [
    // listPods, the recovery watch, the rollout wait's pods
    { group: '', resource: 'pods', verbs: ['list', 'watch'] },
    // server-side apply is a PATCH; an apply that creates the object also needs create; teardown lists + deletes
    { group: '', resource: 'services', verbs: ['list', 'create', 'patch', 'delete'] },
    { group: '', resource: 'serviceaccounts', verbs: ['list', 'create', 'patch', 'delete'] },
    { group: 'apps', resource: 'deployments', verbs: ['list', 'watch', 'create', 'patch', 'delete'] },
    // get: idempotent create and the ownership check before a delete; patch: removing the finalizers of
    // faultline's own objects when the Chaos Mesh controller is gone
    { group: CHAOS_MESH_GROUP, resource: 'podchaos', verbs: ['get', 'list', 'create', 'patch', 'delete'] },
    { group: CHAOS_MESH_GROUP, resource: 'networkchaos', verbs: ['get', 'list', 'create', 'patch', 'delete'] },
    { group: CHAOS_MESH_GROUP, resource: 'stresschaos', verbs: ['get', 'list', 'create', 'patch', 'delete'] },
    { group: CHAOS_MESH_GROUP, resource: 'httpchaos', verbs: ['get', 'list', 'create', 'patch', 'delete'] },
    { group: CHAOS_MESH_GROUP, resource: 'workflows', verbs: ['get', 'list', 'create', 'patch', 'delete'] },
  ],
  /**
   * Only for target.portForward from outside the cluster, in the namespace of each Service forwarded to (the
   * target namespace for the frontend, Prometheus' own): not granted by infra/k8s (in-cluster workers reach
   * Services directly).
   */
  portForward: PORT_FORWARD_PERMISSIONS,
} as const;

export interface KubernetesTargetOptions {
  /** A ready KubeConfig (the worker may share one); otherwise loaded from the config as KubeConfigSource says. */
  kubeConfig?: KubeConfig;
  /** Test seams for credential discovery (env, home dir, service-account dir). */
  configSource?: Omit<KubeConfigSource, 'kubeconfig' | 'context'>;
  requestTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Server-side timeout of one watch request; the watch is re-opened from its resourceVersion after. */
  watchTimeoutSeconds?: number;
  /** Deploy checks that the Chaos Mesh CRDs are served (default: target.requireChaosMesh, else true): fail at deploy, not mid-campaign. */
  requireChaosMesh?: boolean;
  /**
   * How long a deleted Chaos Mesh object may keep its finalizers before faultline concludes the Chaos Mesh
   * controller is gone and removes them itself (default 10 s; the controller takes well under a second).
   */
  finalizerWaitMs?: number;
  /** Progress and warnings (port-forwards, finalizers removed); default: console.log. */
  log?: (msg: string) => void;
  /** Every API operation attempted, in RBAC terms (tests tally them against infra/k8s/rbac). */
  onOperation?: (op: KubeOperation) => void;
}

export type PodEventType = 'added' | 'deleted' | 'restarted' | 'ready' | 'not-ready';

/** What watchPods reports; `atMs` is when the watch saw it (UTC epoch ms). */
export interface PodEvent {
  type: PodEventType;
  pod: PodInfo;
  atMs: number;
  /** 'restarted': the container restart count before this event. */
  previousRestarts?: number;
}

export interface PodWatch {
  /** Pods matching the selector now, as the watch last saw them. */
  pods(): PodInfo[];
  /** Ends the watch; `done` resolves afterwards. */
  stop(): void;
  /** Resolves when stopped; rejects if the watch failed for good (e.g. 403). */
  readonly done: Promise<void>;
}

/** What removing one custom object did. */
export interface RemoveResult {
  /** It existed (and was this campaign's). */
  existed: boolean;
  /** It is gone now because of this call. */
  deleted: boolean;
  /** Finalizers faultline removed because their controller did not (the Chaos Mesh controller is gone). */
  finalizersRemoved?: string[];
  /** A sentence for the fault log / purge output when something beyond a plain delete happened. */
  note?: string;
}

/** An object teardown deleted; `note` when its finalizers had to be removed. */
export type DeletedRef = ObjectRef & { note?: string };

/** The upstream Online Boutique release manifest, copied into infra/k8s/boutique (Apache-2.0, see NOTICE there). */
export function defaultManifestPath(): string {
  // Works from the sources (activities/deploy) and from the build (lib/activities/deploy).
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'infra', 'k8s', 'boutique', 'kubernetes-manifests.yaml');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return resolve(__dirname, '..', '..', 'infra', 'k8s', 'boutique', 'kubernetes-manifests.yaml');
}

/** The loadgenerator Deployment or its ServiceAccount (by name or `app` label). */
export function isLoadGenerator(o: KubeObject): boolean {
  const tpl = o.spec?.template;
  const tplApp =
    isObject(tpl) && isObject(tpl.metadata)
      ? (tpl.metadata.labels as Record<string, string> | undefined)?.app
      : undefined;
  return (
    o.metadata.name === LOAD_GENERATOR_APP ||
    o.metadata.labels?.app === LOAD_GENERATOR_APP ||
    tplApp === LOAD_GENERATOR_APP
  );
}

const PODS: ApiResource = { group: '', version: 'v1', name: 'pods', kind: 'Pod', namespaced: true };
const DEPLOYMENTS: ApiResource = {
  group: 'apps',
  version: 'v1',
  name: 'deployments',
  kind: 'Deployment',
  namespaced: true,
};
const NAMESPACES: ApiResource = { group: '', version: 'v1', name: 'namespaces', kind: 'Namespace', namespaced: false };
/** The kinds of the default manifest (what infra/k8s/rbac grants), for a teardown whose manifest is gone. */
const FALLBACK_TEARDOWN_KINDS = [
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'v1', kind: 'ServiceAccount' },
];
const DEFAULT_FINALIZER_WAIT_MS = 10_000;
/** Once the controller has been found gone, later deletes within this window skip the wait. */
const CONTROLLER_GONE_MEMORY_MS = 60_000;

export class KubernetesTarget implements Target {
  readonly kind = 'kubernetes' as const;
  readonly namespace: string;
  readonly client: KubeClient;
  /** The campaign label value (campaign ids that are not valid label values are shortened + hashed). */
  readonly campaignLabel: string;
  /** What deploy port-forwarded (config field, the URL given, the local URL used instead). */
  readonly forwarded: { field: 'frontendUrl' | 'prometheusUrl'; from: string; to: string }[] = [];
  private readonly allowed: readonly string[];
  private readonly watchTimeoutSeconds: number;
  private readonly finalizerWaitMs: number;
  private readonly log: (msg: string) => void;
  private controllerGoneAtMs: number | undefined;
  /** What the last object left with its finalizer showed about the controller (see removeFinalizers). */
  private stuckDiagnosis: string | undefined;

  constructor(
    readonly config: KubernetesTargetConfig,
    readonly campaignId: string,
    private readonly opts: KubernetesTargetOptions = {},
  ) {
    this.namespace = config.namespace;
    this.allowed = config.allowedNamespaces ?? [config.namespace];
    this.assertNamespace(this.namespace, 'deploy the target');
    const kc =
      opts.kubeConfig ??
      loadKubeConfig({ ...opts.configSource, kubeconfig: config.kubeconfig, context: config.context });
    this.client = new KubeClient(kc, {
      requestTimeoutMs: opts.requestTimeoutMs,
      retry: opts.retry,
      onOperation: opts.onOperation,
    });
    this.campaignLabel = campaignLabelValue(campaignId);
    this.watchTimeoutSeconds = opts.watchTimeoutSeconds ?? 300;
    this.finalizerWaitMs = opts.finalizerWaitMs ?? DEFAULT_FINALIZER_WAIT_MS;
    this.log = opts.log ?? ((m) => console.log(`[faultline kubernetes] ${m}`));
  }

  /** Selector for everything this campaign created. */
  get campaignSelector(): string {
    return `${CAMPAIGN_LABEL}=${this.campaignLabel}`;
  }

  /** Every object of the manifest file (target.manifest, or the upstream Online Boutique release manifest). */
  allManifestObjects(): KubeObject[] {
    const path = this.config.manifest ?? defaultManifestPath();
    if (!existsSync(path)) throw new ManifestError(`manifest ${path} does not exist (target.manifest)`);
    return parseManifest(readFileSync(path, 'utf8'), path);
  }

  /** The objects deploy applies: the manifest, without the loadgenerator unless target.loadGenerator. */
  manifestObjects(): KubeObject[] {
    const all = this.allManifestObjects();
    return this.config.loadGenerator ? all : all.filter((o) => !isLoadGenerator(o));
  }

  /**
   * Creates the namespace if missing, server-side applies every manifest object (fieldManager faultline, force)
   * with the campaign label, waits for every rollout (target.rolloutTimeout), then resolves the endpoints
   * (port-forwarding to cluster-internal ones that are unreachable from here). Idempotent: a retry re-applies.
   */
  async deploy(signal?: AbortSignal): Promise<TargetEndpoints> {
    const objects = this.manifestObjects();
    if ((this.opts.requireChaosMesh ?? this.config.requireChaosMesh) !== false) await this.checkChaosMesh(signal);
    await this.ensureNamespace(signal);
    for (const obj of objects) await this.apply(obj, signal);
    this.log(`applied ${objects.length} objects to namespace ${this.namespace}; waiting for the rollouts`);
    await this.waitReady(parseDuration(this.config.rolloutTimeout), signal);
    return this.endpoints(signal);
  }

  /**
   * The frontend and Prometheus URLs as this machine can use them. A cluster-internal URL (a Service's DNS
   * name) that does not answer from here is replaced by a port-forward to that Service, unless
   * target.portForward is false. A Prometheus that cannot be reached either way fails the deploy (every
   * campaign reads it); an unreachable frontend only warns (campaigns with traffic off never call it).
   */
  async endpoints(signal?: AbortSignal): Promise<TargetEndpoints> {
    return {
      kind: 'kubernetes',
      namespace: this.namespace,
      // In-cluster DNS of the upstream `frontend` Service (:80).
      frontendUrl: await this.reachableUrl(
        'frontendUrl',
        this.config.frontendUrl ?? `http://frontend.${this.namespace}.svc.cluster.local`,
        signal,
      ),
      prometheusUrl: await this.reachableUrl('prometheusUrl', this.config.prometheusUrl, signal),
    };
  }

  private async reachableUrl(
    field: 'frontendUrl' | 'prometheusUrl',
    url: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const svc = clusterServiceOf(url, this.namespace);
    if (!svc || (await reachable(url))) return url;
    const what = `target.${field} ${url} is cluster-internal (Service ${svc.namespace}/${svc.service}) and not reachable from this machine`;
    if (!this.config.portForward) {
      this.log(`${what}; target.portForward is false, so it is used as given`);
      return url;
    }
    try {
      const fwd = await acquireForward(this.client, svc, this.campaignId, { log: this.log, signal });
      const pod = await fwd.resolvePod(signal);
      const u = new URL(url);
      const to = `${fwd.url}${u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '')}${u.search}`;
      const route = `${to} → Service ${svc.namespace}/${svc.service}:${svc.port} (pod ${pod.name}:${pod.port})`;
      // The forward is only said to work once a request through it got an answer: an open local port proves
      // nothing (the pod side may refuse every stream).
      const answer = await answersThroughForward(to, signal);
      if (typeof answer === 'string') {
        const podSaid = fwd.lastError ? `; the pod side said: ${fwd.lastError}` : '';
        throw new PortForwardError(
          `the forward ${route} was set up, but a request through it failed: ${answer}${podSaid}`,
        );
      }
      this.forwarded.push({ field, from: url, to });
      this.log(
        `${what}: port-forwarding ${route} through the API server ${this.client.server}, checked (HTTP ${answer} ` +
          `through it) (set target.portForward: false to turn this off)`,
      );
      return to;
    } catch (err) {
      const grant =
        err instanceof KubeForbiddenError
          ? `grant the port-forward permissions (get services, list pods, get+create pods/portforward in namespace "${svc.namespace}"), `
          : '';
      const msg =
        `${what}, and the automatic port-forward to it failed: ${(err as Error).message}. Fix: ${grant}set ` +
        `target.${field} to a URL this machine can reach, or run faultline in the cluster.`;
      if (field === 'prometheusUrl') throw new PortForwardError(msg);
      this.log(`warning: ${msg} Traffic and browser probes will fail.`);
      return url;
    }
  }

  /** Server-side apply of one object into the target namespace; returns the object as the server stored it. */
  async apply(obj: KubeObject, signal?: AbortSignal, opts: { dryRun?: boolean } = {}): Promise<KubeObject> {
    const res = await this.client.resourceFor(obj.apiVersion, obj.kind, signal);
    if (!res.namespaced) {
      throw new ManifestError(
        `${obj.kind}/${obj.metadata.name ?? ''} is cluster-scoped; faultline only applies namespaced objects (blast radius)`,
      );
    }
    const ns = obj.metadata.namespace ?? this.namespace;
    this.assertNamespace(ns, `apply ${obj.kind}/${obj.metadata.name ?? ''}`);
    const body = withCampaignLabel(obj, this.campaignId, ns);
    const name = body.metadata.name ?? '';
    // An apply that creates the object is also authorized as create (what the RBAC must grant).
    this.opts.onOperation?.(op('create', res, ns, name));
    const out = await this.client.call(
      op('patch', res, ns, name),
      () =>
        this.client.objects.patch(
          body as unknown as KubernetesObject,
          undefined,
          opts.dryRun ? 'All' : undefined,
          FIELD_MANAGER,
          true,
          PatchStrategy.ServerSideApply,
        ),
      signal,
    );
    return out as unknown as KubeObject;
  }

  /** Resolves when every Deployment of this campaign is rolled out; watches (resourceVersion), never sleeps. */
  async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const deployments = new Map<string, KubeObject>();
    const expected = this.manifestObjects().filter((o) => o.kind === 'Deployment' && o.apiVersion === 'apps/v1').length;
    const check = (): boolean => {
      for (const d of deployments.values()) {
        const s = rolloutState(d);
        if (s.failed)
          throw new RolloutFailedError(
            `Deployment ${this.namespace}/${d.metadata.name ?? ''} failed to roll out: ${s.reason}`,
          );
      }
      return deployments.size >= expected && [...deployments.values()].every((d) => rolloutState(d).ready);
    };
    const done = await this.listAndWatch(
      DEPLOYMENTS,
      this.campaignSelector,
      {
        onList: (items) => {
          deployments.clear();
          for (const d of items) deployments.set(d.metadata.name ?? '', d);
        },
        onEvent: (ev) => {
          const name = ev.object.metadata.name ?? '';
          if (ev.type === 'DELETED') deployments.delete(name);
          else deployments.set(name, ev.object);
        },
        done: check,
      },
      deadline,
      signal,
    );
    if (!done) {
      const pending = [...deployments.values()]
        .map((d) => ({ name: d.metadata.name ?? '', s: rolloutState(d) }))
        .filter((x) => !x.s.ready)
        .map((x) => `${x.name}: ${x.s.reason}`);
      const missing = expected - deployments.size;
      throw new RolloutTimeoutError(
        `Deployments in namespace "${this.namespace}" not rolled out after ${timeoutMs} ms: ` +
          `${pending.join('; ') || 'none pending'}${missing > 0 ? `; ${missing} Deployment(s) of the manifest not found (was deploy run?)` : ''}`,
      );
    }
  }

  async listPods(selector: Record<string, string>, signal?: AbortSignal): Promise<PodInfo[]> {
    const list = await this.client.list(PODS, this.namespace, labelSelector(selector), signal);
    return list.items.map(toPodInfo);
  }

  /**
   * Watches pods matching `selector` and reports additions, deletions, container restarts and readiness
   * transitions (for observed recovery). Resolves once the initial list is in, so no event after that is missed.
   */
  async watchPods(
    selector: Record<string, string>,
    onEvent: (ev: PodEvent) => void,
    signal?: AbortSignal,
  ): Promise<PodWatch> {
    const ac = new AbortController();
    const onOuterAbort = () => ac.abort();
    signal?.addEventListener('abort', onOuterAbort, { once: true });
    const pods = new Map<string, PodInfo>();
    let initial = true;
    let listed!: () => void;
    const firstList = new Promise<void>((r) => (listed = r));
    const emit = (type: PodEventType, pod: PodInfo, previousRestarts?: number) => {
      const ev: PodEvent = { type, pod, atMs: Date.now() };
      if (previousRestarts !== undefined) ev.previousRestarts = previousRestarts;
      onEvent(ev);
    };
    const observe = (pod: PodInfo) => {
      const before = pods.get(pod.uid);
      pods.set(pod.uid, pod);
      if (initial) return;
      if (!before) {
        emit('added', pod);
        if (pod.ready) emit('ready', pod);
        return;
      }
      if (pod.restarts > before.restarts) emit('restarted', pod, before.restarts);
      if (pod.ready !== before.ready) emit(pod.ready ? 'ready' : 'not-ready', pod);
    };
    const done = this.listAndWatch(
      PODS,
      labelSelector(selector),
      {
        onList: (items) => {
          // After a re-list (watch expired) diff against what we knew, so restarts in the gap still show.
          const seen = new Set<string>();
          for (const p of items.map(toPodInfo)) {
            seen.add(p.uid);
            observe(p);
          }
          for (const [uid, p] of [...pods]) {
            if (!seen.has(uid)) {
              pods.delete(uid);
              if (!initial) emit('deleted', p);
            }
          }
          if (initial) {
            initial = false;
            listed();
          }
        },
        onEvent: (ev) => {
          const p = toPodInfo(ev.object);
          if (ev.type === 'DELETED') {
            if (pods.delete(p.uid)) emit('deleted', p);
          } else {
            observe(p);
          }
        },
        done: () => false,
      },
      Number.POSITIVE_INFINITY,
      ac.signal,
    )
      .then(() => undefined)
      .finally(() => signal?.removeEventListener('abort', onOuterAbort));
    // A failure before the first list (403, no such namespace) rejects watchPods itself.
    await Promise.race([firstList, done]);
    const finished = done.catch((err: unknown) => {
      if (ac.signal.aborted) return;
      throw err;
    });
    // A caller that never awaits `done` must not crash the worker with an unhandled rejection.
    finished.catch(() => undefined);
    return { pods: () => [...pods.values()], stop: () => ac.abort(), done: finished };
  }

  /**
   * Resolves with the time (UTC epoch ms) at which at least `minPods` pods match `selector` and all of them
   * are Running and ready: the observed recovery after a fault.
   */
  async waitPodsReady(
    selector: Record<string, string>,
    minPods: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<number> {
    const pods = new Map<string, PodInfo>();
    let readyAt: number | undefined;
    const check = () => {
      const all = [...pods.values()].filter((p) => p.reason !== 'Terminating');
      if (all.length >= minPods && all.every((p) => p.ready && p.phase === 'Running')) readyAt ??= Date.now();
      return readyAt !== undefined;
    };
    const ok = await this.listAndWatch(
      PODS,
      labelSelector(selector),
      {
        onList: (items) => {
          pods.clear();
          for (const p of items.map(toPodInfo)) pods.set(p.uid, p);
        },
        onEvent: (ev) => {
          const p = toPodInfo(ev.object);
          if (ev.type === 'DELETED') pods.delete(p.uid);
          else pods.set(p.uid, p);
        },
        done: check,
      },
      Date.now() + timeoutMs,
      signal,
    );
    if (!ok || readyAt === undefined) {
      throw new RolloutTimeoutError(
        `pods ${labelSelector(selector)} in "${this.namespace}" not all ready after ${timeoutMs} ms`,
      );
    }
    return readyAt;
  }

  /** Fails with ChaosMeshNotInstalledError unless chaos-mesh.org/v1alpha1 serves the kinds faultline creates. */
  async checkChaosMesh(signal?: AbortSignal): Promise<void> {
    const missing: string[] = [];
    for (const kind of CHAOS_MESH_KINDS) {
      try {
        await this.client.resourceFor(CHAOS_MESH_API_VERSION, kind, signal);
      } catch (err) {
        if (!(err instanceof ChaosMeshNotInstalledError)) throw err;
        if (/answered 404/.test(err.message)) throw err; // the whole group is missing
        missing.push(kind);
      }
    }
    if (missing.length > 0)
      throw new ChaosMeshNotInstalledError(`${CHAOS_MESH_API_VERSION} does not serve ${missing.join(', ')}`);
  }

  /**
   * Creates a custom object (a Chaos Mesh PodChaos/NetworkChaos/StressChaos/HTTPChaos) through CustomObjectsApi
   * in its namespace (default: the target's) with the campaign label. Idempotent: if it already exists and
   * belongs to this campaign (a retried activity), the existing object is returned. `dryRun`: the API server
   * validates it (CRD schema) and stores nothing.
   */
  async createCustomObject(
    obj: KubeObject,
    signal?: AbortSignal,
    opts: { dryRun?: boolean } = {},
  ): Promise<KubeObject> {
    const ns = obj.metadata.namespace ?? this.namespace;
    this.assertNamespace(ns, `create ${obj.kind}/${obj.metadata.name ?? ''}`);
    this.assertSelectorNamespaces(obj);
    const res = await this.client.resourceFor(obj.apiVersion, obj.kind, signal);
    const body = withCampaignLabel(obj, this.campaignId, res.namespaced ? ns : undefined);
    const name = body.metadata.name ?? '';
    try {
      return (await this.client.call(
        op('create', res, ns, name),
        () =>
          this.client.custom.createNamespacedCustomObject({
            group: res.group,
            version: res.version,
            namespace: ns,
            plural: res.name,
            body,
            fieldManager: FIELD_MANAGER,
            ...(opts.dryRun ? { dryRun: 'All' } : {}),
          }),
        signal,
      )) as KubeObject;
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.statusCode !== 409) throw err;
    }
    const existing = await this.getCustomObject(res, ns, name, signal);
    if (!existing)
      throw new KubeApiError(
        `${obj.kind} ${ns}/${name}: create said 409 but it is gone`,
        409,
        op('create', res, ns, name),
      );
    if (existing.metadata.labels?.[CAMPAIGN_LABEL] !== this.campaignLabel) {
      throw new KubeApiError(
        `${obj.kind} ${ns}/${name} already exists and does not belong to campaign ${this.campaignId} (label ${CAMPAIGN_LABEL}); refusing to take it over`,
        409,
        op('create', res, ns, name),
      );
    }
    return existing;
  }

  private async getCustomObject(
    res: ApiResource,
    ns: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<KubeObject | undefined> {
    return (await this.client.callOrMissing(
      op('get', res, ns, name),
      () =>
        this.client.custom.getNamespacedCustomObject({
          group: res.group,
          version: res.version,
          namespace: ns,
          plural: res.name,
          name,
        }),
      signal,
    )) as KubeObject | undefined;
  }

  /**
   * Deletes one custom object of this campaign, by kind ('PodChaos') and name, or 'PodChaos/name'.
   * Returns false when it is already gone. Refuses objects without this campaign's label.
   */
  async deleteCustomObject(
    kindOrRef: string,
    name?: string,
    opts: { apiVersion?: string; namespace?: string; signal?: AbortSignal } = {},
  ): Promise<boolean> {
    return (await this.removeCustomObject(kindOrRef, name, opts)).deleted;
  }

  /**
   * deleteCustomObject with a report. A Chaos Mesh object carries its controller's finalizer (recover the fault,
   * then let the object go). If the object is still there `finalizerWaitMs` after the delete, the controller is
   * taken to be gone: faultline says so, removes the finalizers of this object — its own campaign's, checked by
   * uid and label in the same patch — so the delete completes, and returns a note for the fault log.
   */
  async removeCustomObject(
    kindOrRef: string,
    name?: string,
    opts: { apiVersion?: string; namespace?: string; signal?: AbortSignal; waitForFinalizers?: boolean } = {},
  ): Promise<RemoveResult> {
    const [kind, objName] = name === undefined ? splitRef(kindOrRef) : [kindOrRef, name];
    const ns = opts.namespace ?? this.namespace;
    const signal = opts.signal;
    this.assertNamespace(ns, `delete ${kind}/${objName}`);
    const res = await this.client.resourceFor(opts.apiVersion ?? CHAOS_MESH_API_VERSION, kind, signal);
    const got = await this.getCustomObject(res, ns, objName, signal);
    if (!got) return { existed: false, deleted: false };
    if (got.metadata.labels?.[CAMPAIGN_LABEL] !== this.campaignLabel) {
      throw new KubeApiError(
        `${kind} ${ns}/${objName} does not belong to campaign ${this.campaignId}; refusing to delete it`,
        409,
        op('delete', res, ns, objName),
      );
    }
    const uid = got.metadata.uid ?? '';
    const terminating = Boolean(got.metadata.deletionTimestamp);
    if (!terminating) {
      try {
        await this.client.call(
          op('delete', res, ns, objName),
          () =>
            this.client.custom.deleteNamespacedCustomObject({
              group: res.group,
              version: res.version,
              namespace: ns,
              plural: res.name,
              name: objName,
              // Precondition on uid: never delete a same-named object created after our GET.
              body: { preconditions: { uid } },
            }),
          signal,
        );
      } catch (err) {
        if (err instanceof KubeApiError && (err.statusCode === 404 || err.statusCode === 409))
          return { existed: true, deleted: false };
        throw err;
      }
    }
    // Without waiting (the chaos loop), the delete is issued and Chaos Mesh finishes it; cleanup waits.
    if (opts.waitForFinalizers === false) return { existed: true, deleted: !terminating };
    if ((got.metadata as { finalizers?: string[] }).finalizers?.length) {
      const waitStartMs = Date.now();
      const left = await this.waitGone(res, ns, objName, uid, signal);
      if (left) return this.removeFinalizers(res, got, left, Date.now() - waitStartMs, signal);
    }
    return { existed: true, deleted: true };
  }

  /** Waits for a deleted object to vanish; returns it if it is still there (with finalizers) after the wait. */
  private async waitGone(
    res: ApiResource,
    ns: string,
    name: string,
    uid: string,
    signal?: AbortSignal,
  ): Promise<KubeObject | undefined> {
    const known =
      this.controllerGoneAtMs !== undefined && Date.now() - this.controllerGoneAtMs < CONTROLLER_GONE_MEMORY_MS;
    const deadline = Date.now() + (known ? 0 : this.finalizerWaitMs);
    // A live controller drops its finalizer within tens of milliseconds: poll fast first, then back off.
    for (let delay = 25; ; delay = Math.min(400, delay * 2)) {
      const now = await this.getCustomObject(res, ns, name, signal);
      if (!now || now.metadata.uid !== uid) return undefined;
      if (Date.now() >= deadline) return now;
      await abortableSleep(Math.min(delay, Math.max(0, deadline - Date.now())), signal);
    }
  }

  /**
   * Removes the finalizers of a deleted object of this campaign that outlived the wait. The note says what was
   * observed: a running controller marks a deleted chaos object to stop (status.experiment.desiredPhase: Stop)
   * and keeps its finalizer until every record is recovered, which needs the chaos daemon on the pod's node (a
   * cluster without one, such as kwok's, shows exactly that); an absent controller leaves the object as it was.
   */
  private async removeFinalizers(
    res: ApiResource,
    before: KubeObject,
    obj: KubeObject,
    waitedMs: number,
    signal?: AbortSignal,
  ): Promise<RemoveResult> {
    const ns = obj.metadata.namespace ?? this.namespace;
    const name = obj.metadata.name ?? '';
    const finalizers = (obj.metadata as { finalizers?: string[] }).finalizers ?? [];
    const what = `${obj.kind} ${ns}/${name}`;
    const seen = this.controllerGoneAtMs;
    this.controllerGoneAtMs = Date.now();
    let note: string;
    // within the memory window the wait was skipped (waitGone): nothing new was observed about this object
    if (seen !== undefined && Date.now() - seen < CONTROLLER_GONE_MEMORY_MS && this.stuckDiagnosis !== undefined) {
      note =
        `the Chaos Mesh object ${what} still carries its finalizer(s) ${finalizers.join(', ')}; it was not waited ` +
        `for, because ${((Date.now() - seen) / 1000).toFixed(1)} s ago another object of this campaign kept ` +
        `its finalizer (${this.stuckDiagnosis}). faultline removed the finalizer(s) of this object, its own ` +
        `campaign's, so the delete completes; whatever the chaos daemon may still apply for it is not undone by this`;
    } else {
      const diagnosis = stuckChaosDiagnosis(before, obj);
      this.stuckDiagnosis = diagnosis;
      note =
        `the Chaos Mesh object ${what} kept its finalizer(s) ${finalizers.join(', ')} for ` +
        `${(waitedMs / 1000).toFixed(1)} s after the delete: ${diagnosis}. faultline removed the finalizer(s) of ` +
        `this object, its own campaign's, so the delete completes; whatever the chaos daemon may still apply for ` +
        `it is not undone by this`;
    }
    this.log(`warning: ${note}`);
    try {
      await this.client.call(
        op('patch', res, ns, name),
        () =>
          this.client.custom.patchNamespacedCustomObject({
            group: res.group,
            version: res.version,
            namespace: ns,
            plural: res.name,
            name,
            // JSON patch: only if it is still this campaign's object (uid + label), then drop the finalizers.
            body: [
              { op: 'test', path: '/metadata/uid', value: obj.metadata.uid },
              {
                op: 'test',
                path: `/metadata/labels/${CAMPAIGN_LABEL.replace(/~/g, '~0').replace(/\//g, '~1')}`,
                value: this.campaignLabel,
              },
              { op: 'remove', path: '/metadata/finalizers' },
            ],
          }),
        signal,
      );
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 404) return { existed: true, deleted: true };
      throw err;
    }
    return { existed: true, deleted: true, finalizersRemoved: finalizers, note };
  }

  /** Lists custom objects in the target namespace (e.g. 'chaos-mesh.org', 'v1alpha1', 'podchaos', campaign selector). */
  async listCustomObjects(
    group: string,
    version: string,
    plural: string,
    labelSel?: string,
    signal?: AbortSignal,
  ): Promise<KubeObject[]> {
    const res = { group, version, name: plural, namespaced: true };
    const list = (await this.client.callOrMissing(
      op('list', res, this.namespace),
      () =>
        this.client.custom.listNamespacedCustomObject({
          group,
          version,
          namespace: this.namespace,
          plural,
          ...(labelSel ? { labelSelector: labelSel } : {}),
        }),
      signal,
    )) as { items: KubeObject[] } | undefined;
    if (!list) {
      if (group === CHAOS_MESH_GROUP)
        throw new ChaosMeshNotInstalledError(`${group}/${version} does not serve ${plural}`);
      throw new KubeApiError(
        `${plural}.${group}/${version} is not served by this cluster`,
        404,
        op('list', res, this.namespace),
      );
    }
    return list.items;
  }

  /** Removes what this campaign created, found by its label, and nothing else; closes its port-forwards. Idempotent. */
  async teardown(): Promise<void> {
    const deleted = await this.deleteCampaignObjects();
    const forced = deleted.filter((d) => d.note);
    this.log(
      `teardown: deleted ${deleted.length} object(s) of campaign ${this.campaignId} in namespace ${this.namespace}` +
        (forced.length ? `; removed the finalizers of ${forced.map((d) => `${d.kind}/${d.name}`).join(', ')}` : ''),
    );
    await releaseForwards(this.campaignId);
  }

  /** teardown with a report: the objects it deleted (chaos objects first, then the manifest's, then the namespace). */
  async deleteCampaignObjects(signal?: AbortSignal): Promise<DeletedRef[]> {
    const deleted: DeletedRef[] = [];
    // Chaos objects first so faults are recovered before their target pods go away.
    const chaos: ApiResource[] = [];
    for (const kind of CHAOS_MESH_KINDS) {
      try {
        chaos.push(await this.client.resourceFor(CHAOS_MESH_API_VERSION, kind, signal));
      } catch (err) {
        if (!(err instanceof ChaosMeshNotInstalledError)) throw err;
      }
    }
    for (const r of chaos) {
      const items = await this.campaignObjects(r, signal);
      if (!items) continue; // namespace already gone
      for (const item of items) {
        const name = item.metadata.name ?? '';
        const out = await this.removeCustomObject(r.kind, name, { apiVersion: CHAOS_MESH_API_VERSION, signal });
        if (out.deleted)
          deleted.push({
            apiVersion: CHAOS_MESH_API_VERSION,
            kind: r.kind,
            namespace: this.namespace,
            name,
            ...(out.note ? { note: out.note } : {}),
          });
      }
    }
    const types: ApiResource[] = [];
    const seen = new Set<string>();
    let kinds: Pick<KubeObject, 'apiVersion' | 'kind'>[];
    try {
      kinds = this.allManifestObjects();
    } catch (err) {
      // The manifest file is gone (e.g. a custom target.manifest): still clean up the usual workload kinds.
      if (!(err instanceof ManifestError)) throw err;
      kinds = FALLBACK_TEARDOWN_KINDS;
    }
    for (const o of kinds) {
      const key = `${o.apiVersion}/${o.kind}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const r = await this.client.resourceFor(o.apiVersion, o.kind, signal);
      if (r.namespaced) types.push(r);
    }
    for (const r of types) {
      const items = await this.campaignObjects(r, signal);
      if (!items) continue; // namespace already gone
      for (const item of items) {
        const name = item.metadata.name ?? '';
        try {
          await this.client.call(
            op('delete', r, this.namespace, name),
            () =>
              this.client.objects.delete(
                header(r, this.namespace, name),
                undefined,
                undefined,
                undefined,
                undefined,
                'Background',
                {
                  preconditions: { uid: item.metadata.uid },
                },
              ),
            signal,
          );
        } catch (err) {
          if (err instanceof KubeApiError && (err.statusCode === 404 || err.statusCode === 409)) continue;
          throw err;
        }
        deleted.push({
          apiVersion: item.apiVersion ?? `${r.group ? `${r.group}/` : ''}${r.version}`,
          kind: r.kind,
          namespace: this.namespace,
          name,
        });
      }
    }
    // The namespace goes only if this campaign created it (it then carries the campaign label).
    const ns = await this.readNamespace(signal);
    if (ns && ns.metadata.labels?.[CAMPAIGN_LABEL] === this.campaignLabel && !ns.metadata.deletionTimestamp) {
      try {
        await this.client.call(
          op('delete', NAMESPACES, undefined, this.namespace),
          () =>
            this.client.core.deleteNamespace({
              name: this.namespace,
              body: { preconditions: { uid: ns.metadata.uid } },
            }),
          signal,
        );
        deleted.push({ apiVersion: 'v1', kind: 'Namespace', name: this.namespace });
      } catch (err) {
        if (!(err instanceof KubeApiError && (err.statusCode === 404 || err.statusCode === 409))) throw err;
      }
    }
    return deleted;
  }

  /** The campaign's objects of one resource in the namespace, or undefined when the namespace is already gone. */
  private async campaignObjects(r: ApiResource, signal?: AbortSignal): Promise<KubeObject[] | undefined> {
    try {
      return (await this.client.list(r, this.namespace, this.campaignSelector, signal)).items;
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  private async readNamespace(signal?: AbortSignal): Promise<KubeObject | undefined> {
    return (await this.client.callOrMissing(
      op('get', NAMESPACES, undefined, this.namespace),
      () => this.client.core.readNamespace({ name: this.namespace }),
      signal,
    )) as unknown as KubeObject | undefined;
  }

  private async ensureNamespace(signal?: AbortSignal): Promise<void> {
    if (await this.readNamespace(signal)) return;
    const body = withCampaignLabel(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: this.namespace } },
      this.campaignId,
    );
    try {
      await this.client.call(
        op('create', NAMESPACES, undefined, this.namespace),
        () => this.client.core.createNamespace({ body: body as unknown as V1Namespace }),
        signal,
      );
    } catch (err) {
      // 409: created concurrently (another attempt) — fine, it exists now.
      if (!(err instanceof KubeApiError && err.statusCode === 409)) throw err;
    }
  }

  private assertNamespace(ns: string, what: string): void {
    if (!this.allowed.includes(ns)) throw new NamespaceNotAllowedError(ns, this.allowed, what);
  }

  /** Chaos Mesh selectors may name namespaces other than the CR's own: those must be allowed too. */
  private assertSelectorNamespaces(obj: KubeObject): void {
    const sel = obj.spec?.selector;
    if (!isObject(sel)) return;
    const names = [
      ...(Array.isArray(sel.namespaces) ? (sel.namespaces as unknown[]) : []),
      ...(isObject(sel.pods) ? Object.keys(sel.pods) : []),
    ];
    for (const n of names)
      if (typeof n === 'string') this.assertNamespace(n, `target pods of ${obj.kind}/${obj.metadata.name ?? ''}`);
  }

  /**
   * List, then watch from the list's resourceVersion until `done()` or the deadline. The server ends each watch
   * after timeoutSeconds, and a dropped connection ends it early: either way it is resumed from the last
   * resourceVersion seen. A 410 Gone (that version was compacted away) re-lists. Connection failures and
   * 429/5xx back off and retry (at most 5 in a row). Returns false on deadline.
   */
  private async listAndWatch(
    res: ApiResource,
    selector: string,
    h: { onList: (items: KubeObject[]) => void; onEvent: (ev: WatchEvent) => void; done: () => boolean },
    deadline: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    let rv: string | undefined;
    let relist = true;
    let transientFailures = 0;
    for (;;) {
      if (signal?.aborted) return h.done();
      if (relist) {
        const list = await this.client.list(res, this.namespace, selector, signal);
        h.onList(list.items);
        rv = list.metadata?.resourceVersion;
        relist = false;
        if (h.done()) return true;
      }
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) return false;
      const ac = new AbortController();
      const onAbort = () => ac.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = Number.isFinite(remainingMs) ? setTimeout(() => ac.abort(), remainingMs) : undefined;
      try {
        const end = await this.client.watch(
          res,
          this.namespace,
          {
            labelSelector: selector || undefined,
            resourceVersion: rv,
            timeoutSeconds: Math.max(1, Math.min(this.watchTimeoutSeconds, Math.ceil(remainingMs / 1000))),
          },
          (ev) => {
            h.onEvent(ev);
            if (h.done()) ac.abort();
          },
          ac.signal,
        );
        transientFailures = 0;
        if (h.done()) return true;
        if (end.reason === 'expired') relist = true;
        else rv = end.resourceVersion ?? rv;
      } catch (err) {
        if (!KubeClient.isTransient(err) || ++transientFailures > 5) throw err;
        relist = rv === undefined;
        await abortableSleep(Math.min(5000, 200 * 2 ** transientFailures), signal).catch(() => undefined);
      } finally {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
    }
  }
}

function splitRef(ref: string): [string, string] {
  const i = ref.indexOf('/');
  if (i <= 0 || i === ref.length - 1) throw new ManifestError(`expected "Kind/name", got "${ref}"`);
  return [ref.slice(0, i), ref.slice(i + 1)];
}

/** Chaos Mesh's status of a chaos object, the parts that show whether its controller acted. */
interface ChaosStatus {
  experiment?: {
    desiredPhase?: string;
    containerRecords?: { id?: string; phase?: string }[];
  };
}

/**
 * What a chaos object that kept its finalizer after the delete shows about the Chaos Mesh controller: one that
 * runs sets desiredPhase to Stop on a deleted object (or at least updates it) and then waits for its records to be
 * recovered; one that does not run leaves the object exactly as the delete left it.
 */
export function stuckChaosDiagnosis(before: KubeObject, after: KubeObject): string {
  const statusOf = (o: KubeObject) => ((o as { status?: ChaosStatus }).status ?? {}).experiment ?? {};
  const was = statusOf(before);
  const now = statusOf(after);
  const markedStop = now.desiredPhase === 'Stop' && was.desiredPhase !== 'Stop';
  if (markedStop) {
    const records = (now.containerRecords ?? []).map((r) => `${r.id ?? '?'}: ${r.phase ?? '?'}`);
    return (
      'the Chaos Mesh controller is running (it marked the object to stop) but did not recover it' +
      (records.length ? ` (records ${records.join(', ')})` : '') +
      ' — no chaos daemon on the node of its pods?'
    );
  }
  if (was.desiredPhase === 'Stop')
    return (
      'the object was marked to stop before the delete already, so its status does not show whether the Chaos ' +
      'Mesh controller runs: either it is not running, or it cannot recover the fault (no chaos daemon on the ' +
      'node of its pods?)'
    );
  return (
    'the Chaos Mesh controller did not act on the delete (the object was never marked to stop): the controller ' +
    'is not running (or not reconciling)'
  );
}

/**
 * One HTTP request through a fresh port-forward (retried for a few seconds: the first stream can race the pod's
 * readiness): the status code when anything answered, else why not. Redirects count as answers.
 */
async function answersThroughForward(url: string, signal?: AbortSignal, withinMs = 5000): Promise<number | string> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    let why: string;
    try {
      const res = await fetch(url, {
        redirect: 'manual',
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(3000)]) : AbortSignal.timeout(3000),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status;
    } catch (err) {
      signal?.throwIfAborted();
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      why = `GET ${url}: ${(err as Error).message}${cause ? ` (${cause})` : ''}`;
    }
    if (Date.now() >= deadline) return why;
    await abortableSleep(500, signal);
  }
}
