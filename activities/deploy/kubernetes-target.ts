import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesTargetConfig } from '../../schemas/target';
import {
  KubeClient,
  abortableSleep,
  loadKubeConfig,
  type ApiResource,
  type KubeConfigSource,
  type RetryPolicy,
  type WatchEvent,
} from './kube-client';
import {
  ChaosMeshNotInstalledError,
  KubeApiError,
  ManifestError,
  NamespaceNotAllowedError,
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
  type KubeList,
  type KubeObject,
  type ObjectRef,
} from './kube-objects';
import type { Target } from './target';
import type { PodInfo, TargetEndpoints } from './types';

/** Chaos Mesh API group/version and the kinds faultline creates (schedules: Chaos Mesh's own cron kind). */
export const CHAOS_MESH_API_VERSION = 'chaos-mesh.org/v1alpha1';
export const CHAOS_MESH_GROUP = 'chaos-mesh.org';
export const CHAOS_MESH_PLURALS = ['podchaos', 'networkchaos', 'stresschaos', 'httpchaos'] as const;

/**
 * Every (group, resource, verbs) this class uses, by scope. infra/k8s/rbac grants exactly these
 * (test/k8s-manifests.test.ts checks that the RBAC and this list agree).
 */
export const KUBE_PERMISSIONS = {
  /** ClusterRole: namespaces are cluster-scoped; deploy and teardown read the target namespace. */
  cluster: [{ group: '', resource: 'namespaces', verbs: ['get'] }],
  /** Only when the target namespace does not exist yet: created at deploy, deleted at teardown (not granted by infra/k8s, which creates it). */
  clusterIfNamespaceMissing: [{ group: '', resource: 'namespaces', verbs: ['create', 'delete'] }],
  /** Role in the target namespace. */
  namespaced: [
    { group: '', resource: 'pods', verbs: ['get', 'list', 'watch'] },
    // server-side apply is a PATCH; applying an object that does not exist yet also needs create
    { group: '', resource: 'services', verbs: ['get', 'list', 'create', 'patch', 'delete'] },
    { group: '', resource: 'serviceaccounts', verbs: ['get', 'list', 'create', 'patch', 'delete'] },
    { group: 'apps', resource: 'deployments', verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
    { group: CHAOS_MESH_GROUP, resource: 'podchaos', verbs: ['get', 'list', 'create', 'delete'] },
    { group: CHAOS_MESH_GROUP, resource: 'networkchaos', verbs: ['get', 'list', 'create', 'delete'] },
    { group: CHAOS_MESH_GROUP, resource: 'stresschaos', verbs: ['get', 'list', 'create', 'delete'] },
    { group: CHAOS_MESH_GROUP, resource: 'httpchaos', verbs: ['get', 'list', 'create', 'delete'] },
  ],
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

export class KubernetesTarget implements Target {
  readonly kind = 'kubernetes' as const;
  readonly namespace: string;
  readonly client: KubeClient;
  /** The campaign label value (campaign ids that are not valid label values are shortened + hashed). */
  readonly campaignLabel: string;
  private readonly allowed: readonly string[];
  private readonly watchTimeoutSeconds: number;

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
    this.client = new KubeClient(kc, { requestTimeoutMs: opts.requestTimeoutMs, retry: opts.retry });
    this.campaignLabel = campaignLabelValue(campaignId);
    this.watchTimeoutSeconds = opts.watchTimeoutSeconds ?? 300;
  }

  /** Selector for everything this campaign created. */
  get campaignSelector(): string {
    return `${CAMPAIGN_LABEL}=${this.campaignLabel}`;
  }

  /** Objects of the manifest (target.manifest, or the upstream Online Boutique release manifest). */
  manifestObjects(): KubeObject[] {
    const path = this.config.manifest ?? defaultManifestPath();
    if (!existsSync(path)) throw new ManifestError(`manifest ${path} does not exist (target.manifest)`);
    return parseManifest(readFileSync(path, 'utf8'), path);
  }

  /**
   * Creates the namespace if missing, then server-side applies every manifest object (fieldManager faultline,
   * force) with the campaign label. Idempotent: a retry re-applies the same objects.
   */
  async deploy(signal?: AbortSignal): Promise<TargetEndpoints> {
    const objects = this.manifestObjects();
    if ((this.opts.requireChaosMesh ?? this.config.requireChaosMesh) !== false) await this.checkChaosMesh(signal);
    await this.ensureNamespace(signal);
    for (const obj of objects) await this.apply(obj, signal);
    return {
      kind: 'kubernetes',
      namespace: this.namespace,
      // In-cluster DNS of the upstream `frontend` Service (:80); set target.frontendUrl when the workers run outside.
      frontendUrl: this.config.frontendUrl ?? `http://frontend.${this.namespace}.svc.cluster.local`,
      prometheusUrl: this.config.prometheusUrl,
    };
  }

  /** Server-side apply of one object into the target namespace; returns the object as the server stored it. */
  async apply(obj: KubeObject, signal?: AbortSignal): Promise<KubeObject> {
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
    const out = await this.client.request<KubeObject>({
      method: 'PATCH',
      path: KubeClient.path(res, ns, name),
      query: { fieldManager: FIELD_MANAGER, force: true },
      // JSON is YAML: the apply content type accepts it as is.
      contentType: 'application/apply-patch+yaml',
      body,
      op: op('patch', res, ns, name),
      signal,
    });
    return out.body;
  }

  /** Resolves when every Deployment of this campaign is rolled out; watches (resourceVersion), never sleeps. */
  async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const deployments = new Map<string, KubeObject>();
    const res: Pick<ApiResource, 'group' | 'version' | 'name' | 'namespaced'> = {
      group: 'apps',
      version: 'v1',
      name: 'deployments',
      namespaced: true,
    };
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
      res,
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
    const list = await this.client.request<KubeList>({
      method: 'GET',
      path: KubeClient.path(PODS, this.namespace),
      query: { labelSelector: labelSelector(selector) || undefined },
      op: op('list', PODS, this.namespace),
      signal,
    });
    return list.body.items.map(toPodInfo);
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
    const served = await this.client.resources(CHAOS_MESH_API_VERSION, signal);
    const missing = CHAOS_MESH_PLURALS.filter((p) => !served.some((r) => r.name === p));
    if (missing.length > 0)
      throw new ChaosMeshNotInstalledError(`${CHAOS_MESH_API_VERSION} does not serve ${missing.join(', ')}`);
  }

  /**
   * Creates a custom object (a Chaos Mesh PodChaos/NetworkChaos/StressChaos/HTTPChaos) in its namespace
   * (default: the target's) with the campaign label. Idempotent: if it already exists and belongs to this
   * campaign (a retried activity), the existing object is returned.
   */
  async createCustomObject(obj: KubeObject, signal?: AbortSignal): Promise<KubeObject> {
    const ns = obj.metadata.namespace ?? this.namespace;
    this.assertNamespace(ns, `create ${obj.kind}/${obj.metadata.name ?? ''}`);
    this.assertSelectorNamespaces(obj);
    const res = await this.client.resourceFor(obj.apiVersion, obj.kind, signal);
    const body = withCampaignLabel(obj, this.campaignId, res.namespaced ? ns : undefined);
    const name = body.metadata.name ?? '';
    const created = await this.client.request<KubeObject>({
      method: 'POST',
      path: KubeClient.path(res, ns),
      query: { fieldManager: FIELD_MANAGER },
      body,
      op: op('create', res, ns, name),
      accept: [409],
      signal,
    });
    if (created.statusCode !== 409) return created.body;
    const existing = await this.client.request<KubeObject>({
      method: 'GET',
      path: KubeClient.path(res, ns, name),
      op: op('get', res, ns, name),
      signal,
    });
    if (existing.body.metadata.labels?.[CAMPAIGN_LABEL] !== this.campaignLabel) {
      throw new KubeApiError(
        `${obj.kind} ${ns}/${name} already exists and does not belong to campaign ${this.campaignId} (label ${CAMPAIGN_LABEL}); refusing to take it over`,
        409,
        op('create', res, ns, name),
      );
    }
    return existing.body;
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
    const [kind, objName] = name === undefined ? splitRef(kindOrRef) : [kindOrRef, name];
    const ns = opts.namespace ?? this.namespace;
    this.assertNamespace(ns, `delete ${kind}/${objName}`);
    const res = await this.client.resourceFor(opts.apiVersion ?? CHAOS_MESH_API_VERSION, kind, opts.signal);
    const path = KubeClient.path(res, ns, objName);
    const got = await this.client.request<KubeObject>({
      method: 'GET',
      path,
      op: op('get', res, ns, objName),
      accept: [404],
      signal: opts.signal,
    });
    if (got.statusCode === 404) return false;
    if (got.body.metadata.labels?.[CAMPAIGN_LABEL] !== this.campaignLabel) {
      throw new KubeApiError(
        `${kind} ${ns}/${objName} does not belong to campaign ${this.campaignId}; refusing to delete it`,
        409,
        op('delete', res, ns, objName),
      );
    }
    const del = await this.client.request({
      method: 'DELETE',
      path,
      // Precondition on uid: never delete a same-named object created after our GET.
      body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: got.body.metadata.uid } },
      op: op('delete', res, ns, objName),
      accept: [404, 409],
      signal: opts.signal,
    });
    return del.statusCode !== 404 && del.statusCode !== 409;
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
    const list = await this.client.request<KubeList>({
      method: 'GET',
      path: KubeClient.path(res, this.namespace),
      query: { labelSelector: labelSel },
      op: op('list', res, this.namespace),
      accept: [404],
      signal,
    });
    if (list.statusCode === 404) {
      if (group === CHAOS_MESH_GROUP)
        throw new ChaosMeshNotInstalledError(`${group}/${version} does not serve ${plural}`);
      throw new KubeApiError(
        `${plural}.${group}/${version} is not served by this cluster`,
        404,
        op('list', res, this.namespace),
      );
    }
    return list.body.items;
  }

  /** Removes what this campaign created, found by its label, and nothing else. Idempotent. */
  async teardown(): Promise<void> {
    await this.deleteCampaignObjects();
  }

  /** teardown with a report: the objects it deleted (chaos objects first, then the manifest's, then the namespace). */
  async deleteCampaignObjects(signal?: AbortSignal): Promise<ObjectRef[]> {
    const deleted: ObjectRef[] = [];
    const types: Pick<ApiResource, 'group' | 'version' | 'name' | 'namespaced' | 'kind'>[] = [];
    // Chaos objects first so faults are recovered before their target pods go away.
    let chaos: ApiResource[] = [];
    try {
      chaos = await this.client.resources(CHAOS_MESH_API_VERSION, signal);
    } catch (err) {
      if (!(err instanceof ChaosMeshNotInstalledError)) throw err;
    }
    for (const r of chaos) if ((CHAOS_MESH_PLURALS as readonly string[]).includes(r.name)) types.push(r);
    const seen = new Set<string>();
    let kinds: Pick<KubeObject, 'apiVersion' | 'kind'>[];
    try {
      kinds = this.manifestObjects();
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
      const list = await this.client.request<KubeList>({
        method: 'GET',
        path: KubeClient.path(r, this.namespace),
        query: { labelSelector: this.campaignSelector },
        op: op('list', r, this.namespace),
        accept: [404],
        signal,
      });
      if (list.statusCode === 404) continue; // namespace already gone
      for (const item of list.body.items) {
        const name = item.metadata.name ?? '';
        const del = await this.client.request({
          method: 'DELETE',
          path: KubeClient.path(r, this.namespace, name),
          body: {
            kind: 'DeleteOptions',
            apiVersion: 'v1',
            propagationPolicy: 'Background',
            preconditions: { uid: item.metadata.uid },
          },
          op: op('delete', r, this.namespace, name),
          accept: [404, 409],
          signal,
        });
        if (del.statusCode < 300)
          deleted.push({
            apiVersion: item.apiVersion ?? `${r.group ? `${r.group}/` : ''}${r.version}`,
            kind: r.kind,
            namespace: this.namespace,
            name,
          });
      }
    }
    // The namespace goes only if this campaign created it (it then carries the campaign label).
    const ns = await this.client.request<KubeObject>({
      method: 'GET',
      path: KubeClient.path(NAMESPACES, undefined, this.namespace),
      op: op('get', NAMESPACES, undefined, this.namespace),
      accept: [404],
      signal,
    });
    if (
      ns.statusCode !== 404 &&
      ns.body.metadata.labels?.[CAMPAIGN_LABEL] === this.campaignLabel &&
      !ns.body.metadata.deletionTimestamp
    ) {
      const del = await this.client.request({
        method: 'DELETE',
        path: KubeClient.path(NAMESPACES, undefined, this.namespace),
        body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: ns.body.metadata.uid } },
        op: op('delete', NAMESPACES, undefined, this.namespace),
        accept: [404, 409],
        signal,
      });
      if (del.statusCode < 300) deleted.push({ apiVersion: 'v1', kind: 'Namespace', name: this.namespace });
    }
    return deleted;
  }

  private async ensureNamespace(signal?: AbortSignal): Promise<void> {
    const path = KubeClient.path(NAMESPACES, undefined, this.namespace);
    const got = await this.client.request({
      method: 'GET',
      path,
      op: op('get', NAMESPACES, undefined, this.namespace),
      accept: [404],
      signal,
    });
    if (got.statusCode !== 404) return;
    const body = withCampaignLabel(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: this.namespace } },
      this.campaignId,
    );
    // 409: created concurrently (another attempt) — fine, it exists now.
    await this.client.request({
      method: 'POST',
      path: KubeClient.path(NAMESPACES),
      body,
      op: op('create', NAMESPACES, undefined, this.namespace),
      accept: [409],
      signal,
    });
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
   * after timeoutSeconds; it is re-opened from the last resourceVersion, and re-listed after 410 Gone or a
   * dropped connection. Returns false on deadline.
   */
  private async listAndWatch(
    res: Pick<ApiResource, 'group' | 'version' | 'name' | 'namespaced'>,
    selector: string,
    h: { onList: (items: KubeObject[]) => void; onEvent: (ev: WatchEvent<KubeObject>) => void; done: () => boolean },
    deadline: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const path = KubeClient.path(res, this.namespace);
    let rv: string | undefined;
    let relist = true;
    let transientFailures = 0;
    for (;;) {
      if (signal?.aborted) return h.done();
      if (relist) {
        const list = await this.client.request<KubeList>({
          method: 'GET',
          path,
          query: { labelSelector: selector || undefined },
          op: op('list', res, this.namespace),
          signal,
        });
        h.onList(list.body.items);
        rv = list.body.metadata?.resourceVersion;
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
        const end = await this.client.watch<KubeObject>(
          path,
          {
            labelSelector: selector || undefined,
            resourceVersion: rv,
            timeoutSeconds: Math.max(1, Math.min(this.watchTimeoutSeconds, Math.ceil(remainingMs / 1000))),
          },
          op('watch', res, this.namespace),
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
        relist = true;
        await abortableSleep(Math.min(5000, 200 * 2 ** transientFailures), signal).catch(() => undefined);
      } finally {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
    }
  }
}

const PODS = { group: '', version: 'v1', name: 'pods', namespaced: true };
/** The kinds of the default manifest (what infra/k8s/rbac grants), for a teardown whose manifest is gone. */
const FALLBACK_TEARDOWN_KINDS = [
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'v1', kind: 'ServiceAccount' },
];
const NAMESPACES = { group: '', version: 'v1', name: 'namespaces', namespaced: false };

function op(
  verb: KubeOperation['verb'],
  r: Pick<ApiResource, 'group' | 'name' | 'namespaced'>,
  namespace?: string,
  name?: string,
): KubeOperation {
  const o: KubeOperation = { verb, resource: r.name, group: r.group };
  if (r.namespaced && namespace !== undefined) o.namespace = namespace;
  if (name) o.name = name;
  return o;
}

function splitRef(ref: string): [string, string] {
  const i = ref.indexOf('/');
  if (i <= 0 || i === ref.length - 1) throw new ManifestError(`expected "Kind/name", got "${ref}"`);
  return [ref.slice(0, i), ref.slice(i + 1)];
}
