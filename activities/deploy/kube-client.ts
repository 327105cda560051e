import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync } from 'node:fs';
import type * as http from 'node:http';
import * as https from 'node:https';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  ServerConfiguration,
  Watch,
  createConfiguration,
  type KubernetesObject,
  type V1APIResource,
} from '@kubernetes/client-node';
import {
  ChaosMeshNotInstalledError,
  KubeApiError,
  KubeConfigMissingError,
  KubeForbiddenError,
  KubeInvalidObjectError,
  KubeUnauthorizedError,
  KubeUnreachableError,
  ManifestError,
  describeOperation,
  type KubeOperation,
  type KubeStatus,
} from './kube-errors';
import type { KubeList, KubeObject } from './kube-objects';

/**
 * The Kubernetes API, through @kubernetes/client-node's own clients: KubernetesObjectApi (discovery, server-side
 * apply, list, delete of any kind), CoreV1Api, CustomObjectsApi (Chaos Mesh objects) and Watch. What this file
 * adds around them is what a campaign needs from every call: a timeout, bounded retries (429/5xx/network, with
 * back-off and Retry-After), and errors that name the RBAC verb, resource and namespace (kube-errors.ts).
 */

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeConfigSource {
  /** target.kubeconfig: an explicit file; wins over everything else. */
  kubeconfig?: string;
  /** target.context: a context name in that file. */
  context?: string;
  /** For tests: where $HOME/.kube/config and the service-account token are looked up. */
  env?: NodeJS.ProcessEnv;
  homeDir?: string;
  serviceAccountDir?: string;
}

/** Resolves credentials: target.kubeconfig → $KUBECONFIG → ~/.kube/config → in-cluster service account. */
export function loadKubeConfig(src: KubeConfigSource): KubeConfig {
  const env = src.env ?? process.env;
  const home = src.homeDir ?? homedir();
  const saDir = src.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const kc = new KubeConfig();
  const searched: string[] = [];
  if (src.kubeconfig) {
    if (!existsSync(src.kubeconfig)) {
      throw new KubeConfigMissingError(
        [`target.kubeconfig = ${src.kubeconfig}`],
        'target.kubeconfig names a file that does not exist',
      );
    }
    kc.loadFromFile(src.kubeconfig);
  } else {
    searched.push('target.kubeconfig (unset)');
    const envFiles = (env.KUBECONFIG ?? '').split(delimiter).filter((f) => f.length > 0);
    const homeFile = join(home, '.kube', 'config');
    const tokenFile = join(saDir, 'token');
    if (envFiles.length > 0) {
      const present = envFiles.filter((f) => existsSync(f));
      if (present.length === 0) {
        throw new KubeConfigMissingError(
          [`$KUBECONFIG = ${envFiles.join(delimiter)}`],
          'no file named in $KUBECONFIG exists',
        );
      }
      kc.loadFromFile(present[0] as string);
      for (const f of present.slice(1)) {
        const more = new KubeConfig();
        more.loadFromFile(f);
        kc.mergeConfig(more);
      }
    } else if (existsSync(homeFile)) {
      searched.push('$KUBECONFIG (unset)');
      kc.loadFromFile(homeFile);
    } else if (env.KUBERNETES_SERVICE_HOST && existsSync(tokenFile)) {
      // loadFromCluster takes a prefix in front of the standard path (tests mount one elsewhere).
      kc.loadFromCluster(saDir.endsWith(SERVICE_ACCOUNT_DIR) ? saDir.slice(0, -SERVICE_ACCOUNT_DIR.length) : '');
    } else {
      searched.push('$KUBECONFIG (unset)', homeFile + ' (missing)');
      searched.push(
        env.KUBERNETES_SERVICE_HOST
          ? `in-cluster service account token ${tokenFile} (missing)`
          : 'in-cluster config ($KUBERNETES_SERVICE_HOST unset: not running in a pod)',
      );
      throw new KubeConfigMissingError(searched);
    }
  }
  if (src.context) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(src.context)) {
      throw new KubeConfigMissingError(
        [src.kubeconfig ?? env.KUBECONFIG ?? join(home, '.kube', 'config')],
        `context "${src.context}" is not in the kubeconfig (it has: ${names.join(', ') || 'none'}); fix target.context`,
      );
    }
    kc.setCurrentContext(src.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new KubeConfigMissingError(
      [src.kubeconfig ?? 'the loaded kubeconfig'],
      'the current context names no cluster; set target.context',
    );
  }
  return kc;
}

export interface RetryPolicy {
  /** Total attempts, first included. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 5_000 };
/** One API request (not a watch): the API server answers any of ours in well under a second when healthy. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface KubeClientOptions {
  /** Per-request timeout (not watches). Default 30 s. */
  requestTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Called once per operation (not per retry): what the RBAC must grant (tests tally it against infra/k8s/rbac). */
  onOperation?: (op: KubeOperation) => void;
}

export interface WatchEvent<T = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: T;
}

/** Why one watch request ended: the server closed it (resume from resourceVersion) or it expired (410: re-list). */
export type WatchEnd = { reason: 'closed'; resourceVersion?: string } | { reason: 'expired' };

/** A REST resource as discovery describes it. */
export interface ApiResource {
  /** plural, e.g. 'deployments' */
  name: string;
  kind: string;
  namespaced: boolean;
  /** '' for the core group */
  group: string;
  version: string;
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_STREAM_PREMATURE_CLOSE',
  'KUBE_TIMEOUT',
]);

const TLS_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

/** The abort signal (the caller's, plus the request timeout) of the client-node call running in this context. */
const callContext = new AsyncLocalStorage<{ signal: AbortSignal }>();

/** KubernetesObjectApi with its discovery (`resource()`, cached per apiVersion) made public. */
class DiscoveringObjectApi extends KubernetesObjectApi {
  served(apiVersion: string, kind: string): Promise<V1APIResource | undefined> {
    return this.resource(apiVersion, kind);
  }
}

export function apiVersionOf(r: Pick<ApiResource, 'group' | 'version'>): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

export class KubeClient {
  readonly server: string;
  /** Any kind by apiVersion + kind: discovery, server-side apply, list, delete. */
  readonly objects: DiscoveringObjectApi;
  readonly core: CoreV1Api;
  /** Chaos Mesh objects (and any other custom resource). */
  readonly custom: CustomObjectsApi;
  private readonly watcher: Watch;
  readonly requestTimeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly onOperation?: (op: KubeOperation) => void;

  constructor(
    readonly kubeConfig: KubeConfig,
    opts: KubeClientOptions = {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new KubeConfigMissingError(['the loaded kubeconfig'], 'the current context names no cluster');
    this.server = cluster.server.replace(/\/+$/, '');
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.onOperation = opts.onOperation;
    // kc.makeApiClient with one addition: a middleware that gives each request the abort signal of its call.
    const configuration = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
      promiseMiddleware: [
        {
          pre: (ctx) => {
            const c = callContext.getStore();
            if (c) ctx.setSignal(c.signal);
            const agent = ctx.getAgent();
            if (agent) ctx.setAgent(this.keepAlive(agent));
            return Promise.resolve(ctx);
          },
          post: (res) => Promise.resolve(res),
        },
      ],
    });
    this.objects = new DiscoveringObjectApi(configuration);
    this.core = new CoreV1Api(configuration);
    this.custom = new CustomObjectsApi(configuration);
    this.watcher = new Watch(kubeConfig);
  }

  private agent: https.Agent | undefined;

  /**
   * client-node builds a new https.Agent (a new TLS connection) for every request; this keeps one keep-alive
   * agent and reuses it while the TLS material (CA, client certificate, key) stays the same — an exec plugin
   * that rotates the client certificate gets a new agent.
   */
  private keepAlive(agent: http.Agent): http.Agent {
    if (agent.constructor !== https.Agent) return agent; // proxies (hpagent, socks) are left alone
    const o = (agent as https.Agent).options;
    const text = (v: unknown): string =>
      Array.isArray(v) ? v.map(text).join('\n') : Buffer.isBuffer(v) ? v.toString('base64') : JSON.stringify(v ?? null);
    const same = (a: https.AgentOptions, b: https.AgentOptions) => TLS_KEYS.every((k) => text(a[k]) === text(b[k]));
    if (!this.agent || !same(this.agent.options, o)) {
      this.agent?.destroy();
      this.agent = new https.Agent({ ...o, keepAlive: true, maxSockets: 8 });
    }
    return this.agent;
  }

  /**
   * Runs one client-node call as `op` with the request timeout and bounded retries on 429, 5xx and network
   * errors (exponential back-off with jitter, or the server's Retry-After), and turns failures into the typed
   * errors of kube-errors.ts. 4xx other than 429 fail at once.
   */
  async call<T>(op: KubeOperation, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (!op.resource.startsWith('API discovery')) this.onOperation?.(op);
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const timeout = AbortSignal.timeout(this.requestTimeoutMs);
      const sig = signal ? AbortSignal.any([signal, timeout]) : timeout;
      let failure: Error;
      let retryAfterMs: number | undefined;
      try {
        return await callContext.run({ signal: sig }, fn);
      } catch (err) {
        signal?.throwIfAborted();
        failure = this.toError(err, op, timeout.aborted);
        if (!KubeClient.isTransient(failure)) throw failure;
        retryAfterMs = retryAfter(err);
      }
      if (attempt >= this.retry.maxAttempts) {
        failure.message = `${failure.message} (gave up after ${attempt} attempts)`;
        throw failure;
      }
      const backoff = Math.min(this.retry.maxDelayMs, this.retry.initialDelayMs * 2 ** (attempt - 1));
      await abortableSleep(
        Math.min(this.retry.maxDelayMs, retryAfterMs ?? backoff * (0.5 + Math.random() / 2)),
        signal,
      );
    }
  }

  /** `call`, answering undefined for a 404 (the object or its namespace is gone). */
  async callOrMissing<T>(op: KubeOperation, fn: () => Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
    try {
      return await this.call(op, fn, signal);
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  /** True for failures a caller may retry: 429/5xx answers, connection failures and timeouts. */
  static isTransient(err: unknown): boolean {
    if (err instanceof KubeUnreachableError) return RETRYABLE_CODES.has(err.code);
    return err instanceof KubeApiError && RETRYABLE_STATUS.has(err.statusCode);
  }

  /** Maps apiVersion + kind to its REST resource (plural, namespaced) by discovery (cached per apiVersion). */
  async resourceFor(apiVersion: string, kind: string, signal?: AbortSignal): Promise<ApiResource> {
    const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/') as [string, string]) : ['', apiVersion];
    const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
    let found: V1APIResource | undefined;
    try {
      found = await this.call(
        { verb: 'get', resource: `API discovery ${path}`, group },
        () => this.objects.served(apiVersion, kind),
        signal,
      );
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 404) {
        if (group === 'chaos-mesh.org') {
          throw new ChaosMeshNotInstalledError(
            `GET ${path} answered 404 (API group ${apiVersion} is not served; the CRDs are missing)`,
          );
        }
        throw new ManifestError(`apiVersion ${apiVersion} is not served by this cluster (GET ${path} → 404)`);
      }
      throw err;
    }
    if (!found) {
      if (group === 'chaos-mesh.org')
        throw new ChaosMeshNotInstalledError(`kind ${kind} is not served by ${apiVersion} (its CRD is missing)`);
      throw new ManifestError(`kind ${kind} is not served by apiVersion ${apiVersion} in this cluster`);
    }
    return { name: found.name, kind: found.kind, namespaced: found.namespaced, group, version };
  }

  /** Lists one resource in a namespace (or cluster-wide), optionally by label selector, through KubernetesObjectApi. */
  async list(r: ApiResource, namespace: string | undefined, labelSelector?: string, signal?: AbortSignal) {
    const ns = r.namespaced ? namespace : undefined;
    const list = await this.call(
      op('list', r, ns),
      () =>
        this.objects.list(
          apiVersionOf(r),
          r.kind,
          ns,
          undefined,
          undefined,
          undefined,
          undefined,
          labelSelector || undefined,
        ),
      signal,
    );
    return list as unknown as KubeList;
  }

  /** REST path of a collection (for watches). */
  static path(r: Pick<ApiResource, 'group' | 'version' | 'name' | 'namespaced'>, namespace?: string): string {
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${base}${ns}/${r.name}`;
  }

  /**
   * One watch request through client-node's Watch (`?watch=true&resourceVersion=…&allowWatchBookmarks`): calls
   * onEvent per event and resolves when the server ends the stream or the connection drops (`closed`, with the
   * last resourceVersion seen, so the caller resumes from it). A 410 Gone (as the answer or as an ERROR event in
   * the stream) resolves `expired` so the caller re-lists. Aborting the signal ends it quietly. A stream that
   * stays silent past timeoutSeconds + 30 s is cut (a dead connection must not hang a rollout wait).
   */
  async watch(
    r: ApiResource,
    namespace: string | undefined,
    query: { labelSelector?: string; resourceVersion?: string; timeoutSeconds: number },
    onEvent: (ev: WatchEvent) => void,
    signal?: AbortSignal,
  ): Promise<WatchEnd> {
    const watchOp = op('watch', r, namespace);
    this.onOperation?.(watchOp);
    const path = KubeClient.path(r, namespace);
    let lastRv = query.resourceVersion;
    return new Promise<WatchEnd>((resolve, reject) => {
      let settled = false;
      let expired = false;
      let controller: AbortController | undefined;
      let connected = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(idle);
        signal?.removeEventListener('abort', onAbort);
        controller?.abort();
        fn();
      };
      const closed = () => resolve(expired ? { reason: 'expired' } : { reason: 'closed', resourceVersion: lastRv });
      const onAbort = () => finish(closed);
      const idle = setTimeout(
        () => {
          const cut = new KubeUnreachableError(
            watchOp,
            this.server,
            'KUBE_TIMEOUT',
            `watch silent for ${query.timeoutSeconds + 30} s`,
          );
          finish(() => reject(cut));
        },
        (query.timeoutSeconds + 30) * 1000,
      );
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.watcher
        .watch(
          path,
          {
            labelSelector: query.labelSelector || undefined,
            resourceVersion: query.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: query.timeoutSeconds,
          },
          (type: string, obj: KubeObject & KubeStatus) => {
            if (settled) return;
            if (type === 'ERROR') {
              const st = obj as KubeStatus;
              if (st.code === 410) {
                expired = true;
                return finish(closed);
              }
              return finish(() => reject(this.toError(statusError(st.code ?? 500, st), watchOp, false)));
            }
            const rv = obj.metadata?.resourceVersion;
            if (rv) lastRv = rv;
            if (type === 'BOOKMARK') return;
            try {
              onEvent({ type: type as WatchEvent['type'], object: obj });
            } catch (err) {
              finish(() => reject(err instanceof Error ? err : new Error(String(err))));
            }
          },
          (err: unknown) => {
            if (settled) return;
            if (!err || signal?.aborted || expired) return finish(closed);
            const code = (err as { statusCode?: number }).statusCode;
            if (code === 410) {
              expired = true;
              return finish(closed);
            }
            if (code !== undefined) return finish(() => reject(this.toError(statusError(code), watchOp, false)));
            // Refused/unreachable before any answer: a transient failure the caller backs off from.
            if (!connected) return finish(() => reject(this.toError(err, watchOp, false)));
            // The connection dropped mid-stream (reset, premature close): resumable from lastRv.
            finish(closed);
          },
        )
        .then(
          (c) => {
            connected = true;
            controller = c;
            if (settled) c.abort();
          },
          (err: unknown) => finish(() => reject(this.toError(err, watchOp, false))),
        );
    });
  }

  /** A client-node failure → the typed error for `op` (Forbidden, Invalid, Unreachable, …). */
  toError(err: unknown, op: KubeOperation, timedOut: boolean): Error {
    if (err instanceof KubeApiError || err instanceof KubeUnreachableError) return err;
    const code = statusCodeOf(err);
    if (code !== undefined) {
      const status = parseStatus((err as ApiException<unknown>).body);
      if (code === 403) return new KubeForbiddenError(op, status);
      if (code === 401) return new KubeUnauthorizedError(op, status);
      if (code === 422) return new KubeInvalidObjectError(op, status);
      const msg = status?.message ?? (err as Error).message;
      return new KubeApiError(
        `Kubernetes API: ${describeOperation(op)} failed with ${code}${status?.reason ? ` ${status.reason}` : ''}: ${msg}`,
        code,
        op,
        status,
      );
    }
    const e = err as NodeJS.ErrnoException & { type?: string };
    if (e?.name === 'AbortError' || e?.type === 'aborted') {
      if (timedOut)
        return new KubeUnreachableError(
          op,
          this.server,
          'KUBE_TIMEOUT',
          `no answer within ${this.requestTimeoutMs} ms`,
        );
      return e;
    }
    if (e && typeof e.code === 'string' && (e.type === 'system' || RETRYABLE_CODES.has(e.code))) {
      return new KubeUnreachableError(op, this.server, e.code, e.message);
    }
    if (e?.type === 'system' || e?.name === 'FetchError') {
      return new KubeUnreachableError(op, this.server, 'ECONNRESET', e.message);
    }
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** A plain object in the shape of a client-node HTTP failure (for watch answers, which carry only the code). */
function statusError(code: number, status?: KubeStatus): { statusCode: number; body?: string; message: string } {
  return {
    statusCode: code,
    body: status ? JSON.stringify(status) : undefined,
    message: status?.message ?? `HTTP ${code}`,
  };
}

function statusCodeOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const e = err as { statusCode?: unknown; code?: unknown } | undefined;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return undefined;
}

function parseStatus(body: unknown): KubeStatus | undefined {
  if (typeof body === 'string') {
    try {
      const parsed: unknown = JSON.parse(body);
      return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
    } catch {
      return body ? { message: body.slice(0, 300) } : undefined;
    }
  }
  return typeof body === 'object' && body !== null ? body : undefined;
}

function retryAfter(err: unknown): number | undefined {
  if (!(err instanceof ApiException)) return undefined;
  const ra = (err.headers as Record<string, string> | undefined)?.['retry-after'];
  return ra !== undefined && /^\d+$/.test(ra) ? Number(ra) * 1000 : undefined;
}

/** The RBAC description of one request on resource `r`. */
export function op(
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

/** A KubernetesObject header for KubernetesObjectApi calls that address one object. */
export function header(r: ApiResource, namespace: string | undefined, name: string): KubernetesObject {
  return { apiVersion: apiVersionOf(r), kind: r.kind, metadata: { name, ...(r.namespaced ? { namespace } : {}) } };
}

export async function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  const reason = (): Error => (signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  if (signal?.aborted) throw reason();
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(reason());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
