import { existsSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { KubeConfig } from '@kubernetes/client-node';
import {
  ChaosMeshNotInstalledError,
  KubeApiError,
  KubeConfigMissingError,
  KubeForbiddenError,
  KubeUnauthorizedError,
  ManifestError,
  describeOperation,
  type KubeOperation,
  type KubeStatus,
} from './kube-errors';

/**
 * A small REST client for the Kubernetes API. Credentials, TLS and auth plugins (exec, OIDC, token files)
 * come from @kubernetes/client-node's KubeConfig; the requests themselves are plain node:http(s) so that
 * every call has one timeout, bounded retries (429/5xx/network with back-off), and errors that name the
 * RBAC verb and resource, and so watches can resume from a resourceVersion.
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
      // loadFromCluster takes a prefix in front of the standard path (tests mount a fake one elsewhere).
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

export type Query = Record<string, string | number | boolean | undefined>;

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  query?: Query;
  /** JSON-serialised unless it is already a string. */
  body?: unknown;
  contentType?: string;
  /** What this request means in RBAC terms (used in error messages). */
  op: KubeOperation;
  /** Status codes that are answers rather than errors (e.g. 404 on delete, 409 on create). */
  accept?: number[];
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface KubeResponse<T = unknown> {
  statusCode: number;
  body: T;
}

export interface RetryPolicy {
  /** Total attempts, first included. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface KubeClientOptions {
  /** Per-request timeout (not watches). Default 30 s. */
  requestTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
}

export interface WatchEvent<T = Record<string, unknown>> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** Why one watch request ended: the server closed it (resume from resourceVersion) or it expired (410: re-list). */
export type WatchEnd = { reason: 'closed'; resourceVersion?: string } | { reason: 'expired' };

export interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
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
  'KUBE_TIMEOUT',
]);

class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export class KubeClient {
  readonly server: string;
  private readonly requestTimeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly discovery = new Map<string, Promise<ApiResource[]>>();

  constructor(
    readonly kubeConfig: KubeConfig,
    opts: KubeClientOptions = {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new KubeConfigMissingError(['the loaded kubeconfig'], 'the current context names no cluster');
    this.server = cluster.server.replace(/\/+$/, '');
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.retry = { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 5_000, ...opts.retry };
  }

  /** One API call with timeout and bounded retries; throws typed errors for non-accepted statuses. */
  async request<T = unknown>(req: KubeRequest): Promise<KubeResponse<T>> {
    let attempt = 0;
    for (;;) {
      attempt++;
      let retryAfterMs: number | undefined;
      let failure: Error;
      try {
        const res = await this.once(req);
        if (res.statusCode < 300 || req.accept?.includes(res.statusCode)) {
          return { statusCode: res.statusCode, body: parseJson(res.text) as T };
        }
        const status = parseJson(res.text) as KubeStatus | undefined;
        failure = toApiError(
          res.statusCode,
          req.op,
          typeof status === 'object' && status !== null ? status : undefined,
          res.text,
        );
        if (!RETRYABLE_STATUS.has(res.statusCode)) throw failure;
        retryAfterMs = res.retryAfterS !== undefined ? res.retryAfterS * 1000 : undefined;
      } catch (err) {
        if (err instanceof KubeApiError && !RETRYABLE_STATUS.has(err.statusCode)) throw err;
        if (err instanceof TransportError && !RETRYABLE_CODES.has(err.code)) throw err;
        if (req.signal?.aborted) throw err;
        failure = err as Error;
      }
      if (attempt >= this.retry.maxAttempts) {
        failure.message = `${failure.message} (gave up after ${attempt} attempts)`;
        throw failure;
      }
      const backoff = Math.min(this.retry.maxDelayMs, this.retry.initialDelayMs * 2 ** (attempt - 1));
      const delay = Math.min(this.retry.maxDelayMs, retryAfterMs ?? backoff * (0.5 + Math.random() / 2));
      await abortableSleep(delay, req.signal);
    }
  }

  /**
   * One watch request (`?watch=true&resourceVersion=…`): calls onEvent per newline-delimited WatchEvent and
   * resolves when the server ends the stream. A 410 Gone (in the stream or as the answer) resolves 'expired'
   * so the caller re-lists. Aborting the signal ends it quietly.
   */
  async watch<T = Record<string, unknown>>(
    path: string,
    query: Query,
    op: KubeOperation,
    onEvent: (ev: WatchEvent<T>) => void,
    signal?: AbortSignal,
  ): Promise<WatchEnd> {
    const timeoutSeconds = typeof query.timeoutSeconds === 'number' ? query.timeoutSeconds : 300;
    const url = this.url(path, { ...query, watch: 'true', allowWatchBookmarks: 'true', timeoutSeconds });
    const { agent, headers } = await this.auth();
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<WatchEnd>((resolve, reject) => {
      let lastRv = typeof query.resourceVersion === 'string' ? query.resourceVersion : undefined;
      let expired = false;
      let settled = false;
      const finish = (fn: () => void) => {
        if (!settled) {
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          fn();
        }
      };
      const req = mod.request(
        url,
        { method: 'GET', agent, headers: { ...headers, Accept: 'application/json' } },
        (res) => {
          const code = res.statusCode ?? 0;
          if (code !== 200) {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              if (code === 410) return finish(() => resolve({ reason: 'expired' }));
              const status = parseJson(text) as KubeStatus | undefined;
              finish(() =>
                reject(toApiError(code, op, typeof status === 'object' && status !== null ? status : undefined, text)),
              );
            });
            return;
          }
          const lines = createInterface({ input: res, crlfDelay: Infinity });
          lines.on('line', (line) => {
            if (!line.trim()) return;
            let ev: WatchEvent<T>;
            try {
              ev = JSON.parse(line) as WatchEvent<T>;
            } catch {
              return; // a torn line from a dropped connection; the re-watch resumes from lastRv
            }
            if (ev.type === 'ERROR') {
              const st = ev.object as KubeStatus;
              if (st.code === 410) {
                expired = true;
                req.destroy();
                return;
              }
              finish(() => reject(toApiError(st.code ?? 500, op, st, line)));
              req.destroy();
              return;
            }
            const meta = (ev.object as { metadata?: { resourceVersion?: string } }).metadata;
            if (meta?.resourceVersion) lastRv = meta.resourceVersion;
            if (ev.type !== 'BOOKMARK') {
              try {
                onEvent(ev);
              } catch (err) {
                finish(() => reject(err instanceof Error ? err : new Error(String(err))));
                req.destroy();
              }
            }
          });
          const end = () =>
            finish(() => resolve(expired ? { reason: 'expired' } : { reason: 'closed', resourceVersion: lastRv }));
          lines.on('close', end);
          // A destroyed request (abort, 410, idle timeout) surfaces as 'aborted' errors on both streams.
          lines.on('error', end);
          res.on('error', end);
        },
      );
      // Idle guard: the server closes the stream after timeoutSeconds; a silent dead connection must not hang us.
      req.setTimeout((timeoutSeconds + 30) * 1000, () =>
        req.destroy(new TransportError('watch idle timeout', 'KUBE_TIMEOUT')),
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (signal?.aborted || expired)
          return finish(() => resolve(expired ? { reason: 'expired' } : { reason: 'closed', resourceVersion: lastRv }));
        finish(() =>
          reject(new TransportError(`watch ${describeOperation(op)} failed: ${err.message}`, err.code ?? 'ECONNRESET')),
        );
      });
      const onAbort = () => {
        req.destroy();
        finish(() => resolve({ reason: 'closed', resourceVersion: lastRv }));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      req.end();
    });
  }

  /** True for transport failures a watch loop may retry (dropped connection, idle timeout). */
  static isTransient(err: unknown): boolean {
    if (err instanceof TransportError) return RETRYABLE_CODES.has(err.code);
    return err instanceof KubeApiError && RETRYABLE_STATUS.has(err.statusCode);
  }

  /** Discovery: the resources served for one apiVersion ('v1' or 'group/version'); cached per client. */
  async resources(apiVersion: string, signal?: AbortSignal): Promise<ApiResource[]> {
    let p = this.discovery.get(apiVersion);
    if (!p) {
      p = this.discover(apiVersion, signal);
      this.discovery.set(apiVersion, p);
      p.catch(() => this.discovery.delete(apiVersion));
    }
    return p;
  }

  /** Maps apiVersion + kind to its REST resource (plural, namespaced) from discovery. */
  async resourceFor(apiVersion: string, kind: string, signal?: AbortSignal): Promise<ApiResource> {
    const found = (await this.resources(apiVersion, signal)).find((r) => r.kind === kind);
    if (!found) {
      if (apiVersion.startsWith('chaos-mesh.org/')) {
        throw new ChaosMeshNotInstalledError(`kind ${kind} is not served by ${apiVersion} (its CRD is missing)`);
      }
      throw new ManifestError(`kind ${kind} is not served by apiVersion ${apiVersion} in this cluster`);
    }
    return found;
  }

  /** REST path of a collection or object. */
  static path(
    r: Pick<ApiResource, 'group' | 'version' | 'name' | 'namespaced'>,
    namespace?: string,
    name?: string,
  ): string {
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${base}${ns}/${r.name}${name ? `/${encodeURIComponent(name)}` : ''}`;
  }

  private async discover(apiVersion: string, signal?: AbortSignal): Promise<ApiResource[]> {
    const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/') as [string, string]) : ['', apiVersion];
    const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const res = await this.request<{ resources?: { name: string; kind: string; namespaced: boolean }[] }>({
      method: 'GET',
      path,
      op: { verb: 'get', resource: `API discovery ${path}`, group },
      accept: [404],
      signal,
    });
    if (res.statusCode === 404) {
      if (group === 'chaos-mesh.org') {
        throw new ChaosMeshNotInstalledError(
          `GET ${path} answered 404 (API group ${apiVersion} is not served; the CRDs are missing)`,
        );
      }
      throw new ManifestError(`apiVersion ${apiVersion} is not served by this cluster (GET ${path} → 404)`);
    }
    return (res.body.resources ?? [])
      .filter((r) => !r.name.includes('/'))
      .map((r) => ({ name: r.name, kind: r.kind, namespaced: r.namespaced, group, version }));
  }

  private url(path: string, query?: Query): URL {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  private async auth(): Promise<{ agent: http.Agent | undefined; headers: Record<string, string> }> {
    const init = (await this.kubeConfig.applyToFetchOptions({})) as { agent?: unknown; headers?: unknown };
    const headers: Record<string, string> = {};
    const h = init.headers as
      { forEach?: (cb: (v: string, k: string) => void) => void } | Record<string, string> | undefined;
    if (h && typeof (h as { forEach?: unknown }).forEach === 'function') {
      (h as { forEach: (cb: (v: string, k: string) => void) => void }).forEach((v, k) => (headers[k] = v));
    } else if (h) {
      Object.assign(headers, h);
    }
    return { agent: init.agent instanceof http.Agent ? init.agent : undefined, headers };
  }

  private async once(req: KubeRequest): Promise<{ statusCode: number; text: string; retryAfterS?: number }> {
    const url = this.url(req.path, req.query);
    const { agent, headers } = await this.auth();
    const body =
      req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    const mod = url.protocol === 'https:' ? https : http;
    const timeoutMs = req.timeoutMs ?? this.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const r = mod.request(
        url,
        {
          method: req.method,
          agent,
          headers: {
            ...headers,
            Accept: 'application/json',
            ...(body !== undefined
              ? { 'Content-Type': req.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(body) }
              : {}),
          },
          signal: req.signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err: NodeJS.ErrnoException) =>
            reject(new TransportError(err.message, err.code ?? 'ECONNRESET')),
          );
          res.on('end', () => {
            const ra = res.headers['retry-after'];
            const retryAfterS = ra !== undefined && /^\d+$/.test(String(ra)) ? Number(ra) : undefined;
            resolve({ statusCode: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), retryAfterS });
          });
        },
      );
      r.setTimeout(timeoutMs, () =>
        r.destroy(
          new TransportError(
            `${req.method} ${url.pathname} timed out after ${timeoutMs} ms (${describeOperation(req.op)})`,
            'KUBE_TIMEOUT',
          ),
        ),
      );
      r.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof TransportError) return reject(err);
        if (err.name === 'AbortError') return reject(err);
        reject(
          new TransportError(
            `${req.method} ${this.server}${url.pathname} failed (${describeOperation(req.op)}): ${err.message}`,
            err.code ?? 'ECONNRESET',
          ),
        );
      });
      r.end(body);
    });
  }
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function toApiError(code: number, op: KubeOperation, status: KubeStatus | undefined, text: string): KubeApiError {
  if (code === 403) return new KubeForbiddenError(op, status);
  if (code === 401) return new KubeUnauthorizedError(op, status);
  const msg = status?.message ?? text.slice(0, 300);
  return new KubeApiError(
    `Kubernetes API: ${describeOperation(op)} failed with ${code}${status?.reason ? ` ${status.reason}` : ''}: ${msg}`,
    code,
    op,
    status,
  );
}

async function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
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

export { abortableSleep };
