import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

/**
 * A small stand-in for the Kubernetes API server, for tests: a test fixture for an external system, speaking
 * its real paths, verbs, status codes and bodies. It covers what faultline uses:
 *  - discovery (/api, /apis, /api/v1, /apis/<group>/<version>) — chaos-mesh.org only while "installed";
 *  - namespaced CRUD for pods, services, serviceaccounts, configmaps, deployments (apps/v1) and the Chaos Mesh
 *    kinds (podchaos, networkchaos, stresschaos, httpchaos, schedules); cluster-scoped namespaces;
 *  - server-side apply (PATCH application/apply-patch+yaml, fieldManager required), merge-patch, create (409
 *    AlreadyExists), delete with uid preconditions (409) and 404 NotFound, all as meta/v1 Status objects;
 *  - list with labelSelector (=, ==, !=, exists, !exists) and a list resourceVersion;
 *  - watch (`?watch=true&resourceVersion=N`): newline-delimited WatchEvent JSON, replaying events after N,
 *    410 Gone (an ERROR event) for a compacted resourceVersion, closed after timeoutSeconds;
 *  - a Deployment controller: status progresses generation → pods Pending → pods Running+Ready → Available, so
 *    rollout waits work; deleting a Deployment deletes its pods, deleting a namespace deletes its contents;
 *  - bearer-token authentication (401) and deny rules that answer 403 with the real Forbidden message.
 * Controls: simulatePodRestart (container restart or pod replacement), forbid, setChaosMeshInstalled,
 * failNext (429/5xx injection), compact (expire old resourceVersions).
 */

export interface FakeKubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    generation?: number;
    creationTimestamp: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
    managedFields?: { manager: string; operation: string; apiVersion: string; time: string }[];
    [k: string]: unknown;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [k: string]: unknown;
}

interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
}

const ALL_VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
const CORE: ResourceType[] = [
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, verbs: ALL_VERBS },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, verbs: ALL_VERBS },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true, verbs: ALL_VERBS },
  { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true, verbs: ALL_VERBS },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, verbs: ALL_VERBS },
];
const APPS: ResourceType[] = [
  { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true, verbs: ALL_VERBS },
];
const CHAOS: ResourceType[] = [
  ['podchaos', 'PodChaos'],
  ['networkchaos', 'NetworkChaos'],
  ['stresschaos', 'StressChaos'],
  ['httpchaos', 'HTTPChaos'],
  ['schedules', 'Schedule'],
].map(([plural, kind]) => ({
  group: 'chaos-mesh.org',
  version: 'v1alpha1',
  plural: plural as string,
  kind: kind as string,
  namespaced: true,
  verbs: ALL_VERBS,
}));

export interface DenyRule {
  verb: string;
  /** plural resource */
  resource: string;
  group?: string;
  namespace?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  body?: unknown;
  status: number;
}

export interface FakeKubeApiOptions {
  token?: string;
  chaosMeshInstalled?: boolean;
  /** Delay between Deployment controller steps (ms). */
  controllerStepMs?: number;
  /** Identity shown in 403 messages. */
  user?: string;
  /** Serve HTTPS with a self-signed certificate for 127.0.0.1 (FAKE_KUBE_CA), like a real API server. */
  tls?: boolean;
}

/** Test-only self-signed certificate (CN fake-kube-apiserver, SAN IP:127.0.0.1, DNS:localhost; EC P-256, 100 years). */
export const FAKE_KUBE_CA = `-----BEGIN CERTIFICATE-----
MIIBrzCCAVWgAwIBAgIUYdB4gpK5MOl5nX4PkmDtk1RoIKswCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTZmFrZS1rdWJlLWFwaXNlcnZlcjAgFw0yNjExMjYwNzMwNTFa
GA8yMTI2MTEwMjA3MzA1MVowHjEcMBoGA1UEAwwTZmFrZS1rdWJlLWFwaXNlcnZl
cjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABAnGP3BtQO1InWo80mM0CLLm53OJ
rOa1nLlHqvc203y66utwtjzTEcAx1KDZgm6KvYVXtO1tzfEDFqjNiv4chDKjbzBt
MB0GA1UdDgQWBBTV6lK2pc21kY7bAIq6gJ0Wi89z0TAfBgNVHSMEGDAWgBTV6lK2
pc21kY7bAIq6gJ0Wi89z0TAPBgNVHRMBAf8EBTADAQH/MBoGA1UdEQQTMBGHBH8A
AAGCCWxvY2FsaG9zdDAKBggqhkjOPQQDAgNIADBFAiEA6GVPJ8WJ7ko56Ictgklj
nlmxKaogUXRkNcV63QKCbusCIDP4kcLSqy+J+UUzUJCGYQQwPUXlULRFgEQy7rXM
XLuH
-----END CERTIFICATE-----
`;
const FAKE_KUBE_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgB3WPgg3oBKrLqwLp
dzI4KlbxHbT6Q3hGVO4NwU1xIoShRANCAAQJxj9wbUDtSJ1qPNJjNAiy5udziazm
tZy5R6r3NtN8uurrcLY80xHAMdSg2YJuir2FV7Ttbc3xAxaozYr+HIQy
-----END PRIVATE KEY-----
`;

interface StoredEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  key: string;
  object: FakeKubeObject;
}

interface Watcher {
  rt: ResourceType;
  namespace?: string;
  selector: string | undefined;
  res: ServerResponse;
}

export class FakeKubeApi {
  readonly token: string;
  readonly requests: RecordedRequest[] = [];
  private server!: Server | HttpsServer;
  private rv = 1;
  private readonly store = new Map<string, FakeKubeObject>();
  private readonly events: StoredEvent[] = [];
  /** resourceVersions at or below this are "compacted": watching from them answers 410 Gone. */
  private compactedRv = 0;
  private readonly watchers = new Set<Watcher>();
  private readonly deny: DenyRule[] = [];
  private readonly failures: { status: number; remaining: number }[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private chaosMeshInstalled: boolean;
  private readonly stepMs: number;
  private readonly user: string;
  /** Deployments whose controller is held (never progresses), for timeout tests. */
  readonly stuck = new Set<string>();

  private constructor(opts: FakeKubeApiOptions) {
    this.token = opts.token ?? randomBytes(12).toString('hex');
    this.chaosMeshInstalled = opts.chaosMeshInstalled ?? true;
    this.stepMs = opts.controllerStepMs ?? 20;
    this.user = opts.user ?? 'system:serviceaccount:faultline:faultline-worker';
  }

  static async start(opts: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
    const api = new FakeKubeApi(opts);
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      api.handle(req, res).catch((err: unknown) => api.send(res, 500, status(500, 'InternalError', String(err))));
    };
    api.tls = opts.tls ?? false;
    api.server = api.tls ? createTlsServer({ key: FAKE_KUBE_KEY, cert: FAKE_KUBE_CA }, handler) : createServer(handler);
    await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  private tls = false;

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Writes a kubeconfig for this server (plain http needs insecure-skip-tls-verify in client-node). */
  writeKubeconfig(dir: string, contextName = 'fake'): string {
    const file = join(dir, 'kubeconfig.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        `current-context: ${contextName}`,
        'clusters:',
        `- name: ${contextName}`,
        '  cluster:',
        `    server: ${this.url}`,
        this.tls
          ? `    certificate-authority-data: ${Buffer.from(FAKE_KUBE_CA).toString('base64')}`
          : '    insecure-skip-tls-verify: true',
        'users:',
        `- name: ${contextName}-user`,
        '  user:',
        `    token: ${this.token}`,
        'contexts:',
        `- name: ${contextName}`,
        '  context:',
        `    cluster: ${contextName}`,
        `    user: ${contextName}-user`,
        '',
      ].join('\n'),
    );
    return file;
  }

  /**
   * Writes what a pod's service account mount holds (token, ca.crt, namespace) under `prefix`, for the
   * in-cluster config path (KubeConfig.loadFromCluster(prefix)). Needs tls (the in-cluster scheme is https).
   */
  writeServiceAccount(prefix: string, namespace = 'faultline'): string {
    const dir = join(prefix, 'var', 'run', 'secrets', 'kubernetes.io', 'serviceaccount');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'token'), this.token);
    writeFileSync(join(dir, 'ca.crt'), FAKE_KUBE_CA);
    writeFileSync(join(dir, 'namespace'), namespace);
    return dir;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- controls -------------------------------------------------------------------------------------------

  forbid(rule: DenyRule): void {
    this.deny.push(rule);
  }

  allowAll(): void {
    this.deny.length = 0;
  }

  setChaosMeshInstalled(installed: boolean): void {
    this.chaosMeshInstalled = installed;
  }

  /** The next `count` requests answer `status` (429 carries Retry-After: 0). */
  failNext(count: number, statusCode: number): void {
    this.failures.push({ status: statusCode, remaining: count });
  }

  /** Expires every resourceVersion so far: watches from them get 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.events.length = 0;
  }

  /** Adds an object directly (as if someone else created it), e.g. to check teardown leaves it alone. */
  seed(obj: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string> };
    spec?: Record<string, unknown>;
  }): FakeKubeObject {
    const rt = this.typeForKind(obj.apiVersion, obj.kind);
    if (!rt) throw new Error(`fake: unknown kind ${obj.apiVersion} ${obj.kind}`);
    const o = this.create(rt, obj.metadata.namespace, obj as unknown as FakeKubeObject);
    if (rt.kind === 'Deployment') this.reconcileDeployment(o);
    return o;
  }

  get(group: string, plural: string, namespace: string | undefined, name: string): FakeKubeObject | undefined {
    return this.store.get(key(group, plural, namespace, name));
  }

  list(group: string, plural: string, namespace?: string): FakeKubeObject[] {
    const prefix = `${group}/${plural}/${namespace ?? ''}/`;
    return [...this.store.entries()]
      .filter(([k]) => (namespace === undefined ? k.startsWith(`${group}/${plural}/`) : k.startsWith(prefix)))
      .map(([, v]) => v);
  }

  /** Every stored object as "plural/namespace/name". */
  inventory(): string[] {
    return [...this.store.keys()].map((k) => k.replace(/^[^/]*\//, '')).sort();
  }

  /**
   * Restarts a pod. 'container': its container restarts in place (restartCount+1, not ready, then ready again).
   * 'replace' (what Chaos Mesh pod-kill does): the pod is deleted and its ReplicaSet creates a new one.
   */
  simulatePodRestart(namespace: string, podName: string, mode: 'container' | 'replace' = 'container'): void {
    const pod = this.get('', 'pods', namespace, podName);
    if (!pod) throw new Error(`fake: no pod ${namespace}/${podName}`);
    if (mode === 'container') {
      const st = pod.status as { containerStatuses: { restartCount: number; ready: boolean; state: unknown }[] };
      for (const c of st.containerStatuses) {
        c.restartCount += 1;
        c.ready = false;
        c.state = { waiting: { reason: 'CrashLoopBackOff' } };
      }
      setPodReady(pod, false);
      this.update(pod);
      this.later(() => {
        const p = this.get('', 'pods', namespace, podName);
        if (!p) return;
        for (const c of (p.status as typeof st).containerStatuses) {
          c.ready = true;
          c.state = { running: { startedAt: new Date().toISOString() } };
        }
        setPodReady(p, true);
        this.update(p);
      });
      return;
    }
    const owner = pod.metadata.labels?.['fake.faultline.io/deployment'];
    this.remove('', 'pods', namespace, podName);
    const deploy = owner ? this.get('apps', 'deployments', namespace, owner) : undefined;
    if (deploy) this.reconcileDeployment(deploy);
  }

  /** Lets a held Deployment (see `stuck`) roll out. */
  release(namespace: string, name: string): void {
    this.stuck.delete(name);
    const d = this.get('apps', 'deployments', namespace, name);
    if (d) this.reconcileDeployment(d);
  }

  // ---- HTTP -----------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const raw = await readBody(req);
    const contentType = req.headers['content-type']?.split(';')[0];
    const rec: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query, status: 0 };
    if (contentType) rec.contentType = contentType;
    if (raw) rec.body = contentType?.includes('yaml') ? parseYaml(raw) : safeJson(raw);
    this.requests.push(rec);
    const reply = (code: number, body: unknown) => {
      rec.status = code;
      this.send(res, code, body);
    };

    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return reply(401, status(401, 'Unauthorized', 'Unauthorized'));
    }
    const failure = this.failures.find((f) => f.remaining > 0);
    if (failure) {
      failure.remaining--;
      if (failure.status === 429) res.setHeader('Retry-After', '0');
      return reply(
        failure.status,
        status(failure.status, failure.status === 429 ? 'TooManyRequests' : 'ServiceUnavailable', 'injected failure'),
      );
    }

    const parts = url.pathname.split('/').filter(Boolean);
    // Discovery.
    if (req.method === 'GET') {
      if (url.pathname === '/api')
        return reply(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
      if (url.pathname === '/apis') return reply(200, this.groupList());
      if (url.pathname === '/api/v1') return reply(200, resourceList('v1', CORE));
      if (parts[0] === 'apis' && parts.length === 3) {
        const types = this.types().filter((t) => t.group === parts[1] && t.version === parts[2]);
        if (types.length === 0)
          return reply(404, status(404, 'NotFound', 'the server could not find the requested resource'));
        return reply(200, resourceList(`${parts[1]}/${parts[2]}`, types));
      }
    }

    // Resource paths: /api/v1[/namespaces/{ns}]/{plural}[/{name}] or /apis/{g}/{v}[/namespaces/{ns}]/{plural}[/{name}]
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api') [group, version, rest] = ['', parts[1] ?? '', parts.slice(2)];
    else if (parts[0] === 'apis') [group, version, rest] = [parts[1] ?? '', parts[2] ?? '', parts.slice(3)];
    else return reply(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, sub] = rest;
    const rt = this.types().find((t) => t.group === group && t.version === version && t.plural === plural);
    if (!rt || sub !== undefined || (rt.namespaced && namespace === undefined && name !== undefined)) {
      return reply(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }
    const isWatch = query.watch === 'true' || query.watch === '1';
    const verb = verbOf(req.method ?? 'GET', name !== undefined, isWatch);
    const denied = this.deny.find(
      (d) =>
        d.verb === verb &&
        d.resource === rt.plural &&
        (d.group ?? '') === rt.group &&
        (d.namespace === undefined || d.namespace === namespace),
    );
    if (denied) {
      const where = rt.namespaced && namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope';
      const res403 = `${rt.plural}${rt.group ? `.${rt.group}` : ''}${name ? ` "${name}"` : ''} is forbidden: User "${this.user}" cannot ${verb} resource "${rt.plural}" in API group "${rt.group}"${where}`;
      return reply(403, {
        ...status(403, 'Forbidden', res403),
        details: { ...(name ? { name } : {}), group: rt.group, kind: rt.plural },
      });
    }
    if (
      rt.namespaced &&
      namespace !== undefined &&
      !this.get('', 'namespaces', undefined, namespace) &&
      !(req.method === 'GET' && !name)
    ) {
      return reply(404, {
        ...status(404, 'NotFound', `namespaces "${namespace}" not found`),
        details: { name: namespace, kind: 'namespaces' },
      });
    }
    const notFound = () =>
      reply(404, {
        ...status(404, 'NotFound', `${qualified(rt)} "${name ?? ''}" not found`),
        details: { name, group: rt.group, kind: rt.plural },
      });

    switch (req.method ?? 'GET') {
      case 'GET': {
        if (name !== undefined) {
          const o = this.get(rt.group, rt.plural, namespace, name);
          return o ? reply(200, o) : notFound();
        }
        if (isWatch) return this.startWatch(rt, namespace, query, res, rec);
        const items = this.list(rt.group, rt.plural, rt.namespaced ? namespace : undefined).filter((o) =>
          matches(o.metadata.labels, query.labelSelector),
        );
        return reply(200, {
          kind: `${rt.kind}List`,
          apiVersion: apiVersionOf(rt),
          metadata: { resourceVersion: String(this.rv) },
          items,
        });
      }
      case 'POST': {
        if (name !== undefined)
          return reply(
            405,
            status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
          );
        const body = rec.body as FakeKubeObject | undefined;
        if (!body?.metadata?.name)
          return reply(
            422,
            status(422, 'Invalid', `${rt.kind} is invalid: metadata.name: Required value: name is required`),
          );
        if (body.kind !== rt.kind)
          return reply(400, status(400, 'BadRequest', `the kind ${body.kind} does not match ${rt.kind}`));
        if (rt.namespaced && body.metadata.namespace && body.metadata.namespace !== namespace) {
          return reply(
            400,
            status(
              400,
              'BadRequest',
              'the namespace of the provided object does not match the namespace sent on the request',
            ),
          );
        }
        if (this.get(rt.group, rt.plural, namespace, body.metadata.name)) {
          return reply(409, {
            ...status(409, 'AlreadyExists', `${qualified(rt)} "${body.metadata.name}" already exists`),
            details: { name: body.metadata.name, group: rt.group, kind: rt.plural },
          });
        }
        const o = this.create(rt, namespace, body, query.fieldManager ?? 'unknown', 'Update');
        if (rt.kind === 'Deployment') this.reconcileDeployment(o);
        return reply(201, o);
      }
      case 'PATCH': {
        if (name === undefined)
          return reply(
            405,
            status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
          );
        const body = rec.body as FakeKubeObject | undefined;
        const existing = this.get(rt.group, rt.plural, namespace, name);
        if (contentType === 'application/apply-patch+yaml') {
          if (!query.fieldManager)
            return reply(
              400,
              status(
                400,
                'BadRequest',
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
              ),
            );
          if (!body || body.kind !== rt.kind || body.apiVersion !== apiVersionOf(rt) || body.metadata?.name !== name) {
            return reply(
              400,
              status(
                400,
                'BadRequest',
                'apply patch must carry apiVersion, kind and metadata.name matching the request',
              ),
            );
          }
          if (!existing) {
            const o = this.create(rt, namespace, body, query.fieldManager, 'Apply');
            if (rt.kind === 'Deployment') this.reconcileDeployment(o);
            return reply(201, o);
          }
          const changedSpec = JSON.stringify(existing.spec) !== JSON.stringify(body.spec);
          existing.metadata.labels = { ...existing.metadata.labels, ...body.metadata.labels };
          existing.metadata.annotations = { ...existing.metadata.annotations, ...body.metadata.annotations };
          if (body.spec) existing.spec = body.spec;
          for (const [k, v] of Object.entries(body))
            if (!['apiVersion', 'kind', 'metadata', 'spec', 'status'].includes(k)) existing[k] = v;
          if (changedSpec && existing.metadata.generation !== undefined) existing.metadata.generation += 1;
          this.update(existing);
          if (rt.kind === 'Deployment' && changedSpec) this.reconcileDeployment(existing);
          return reply(200, existing);
        }
        if (contentType === 'application/merge-patch+json') {
          if (!existing) return notFound();
          mergePatch(existing, body as unknown as Record<string, unknown>);
          this.update(existing);
          return reply(200, existing);
        }
        return reply(
          415,
          status(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
          ),
        );
      }
      case 'DELETE': {
        if (name === undefined)
          return reply(405, status(405, 'MethodNotAllowed', 'deletecollection is not supported by this fake'));
        const o = this.get(rt.group, rt.plural, namespace, name);
        if (!o) return notFound();
        const pre = (rec.body as { preconditions?: { uid?: string } } | undefined)?.preconditions;
        if (pre?.uid && pre.uid !== o.metadata.uid) {
          return reply(
            409,
            status(
              409,
              'Conflict',
              `Operation cannot be fulfilled on ${qualified(rt)} "${name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${o.metadata.uid}`,
            ),
          );
        }
        this.remove(rt.group, rt.plural, namespace, name);
        return reply(200, o);
      }
      default:
        return reply(
          405,
          status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
        );
    }
  }

  private startWatch(
    rt: ResourceType,
    namespace: string | undefined,
    query: Record<string, string>,
    res: ServerResponse,
    rec: RecordedRequest,
  ): void {
    rec.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    const selector = query.labelSelector;
    const from =
      query.resourceVersion !== undefined && query.resourceVersion !== '' && query.resourceVersion !== '0'
        ? Number(query.resourceVersion)
        : undefined;
    const w: Watcher = { rt, namespace, selector, res };
    if (from !== undefined && from <= this.compactedRv) {
      res.end(
        JSON.stringify({
          type: 'ERROR',
          object: status(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`),
        }) + '\n',
      );
      return;
    }
    if (from !== undefined) {
      for (const ev of this.events)
        if (ev.rv > from && this.watches(w, ev.object))
          res.write(JSON.stringify({ type: ev.type, object: ev.object }) + '\n');
    } else {
      // No resourceVersion: synthetic ADDED for everything that exists (what the real server does).
      for (const o of this.list(rt.group, rt.plural, rt.namespaced ? namespace : undefined)) {
        if (matches(o.metadata.labels, selector)) res.write(JSON.stringify({ type: 'ADDED', object: o }) + '\n');
      }
    }
    this.watchers.add(w);
    const seconds = Number(query.timeoutSeconds ?? 1800);
    const t = setTimeout(() => res.end(), seconds * 1000);
    this.timers.add(t);
    res.on('close', () => {
      clearTimeout(t);
      this.timers.delete(t);
      this.watchers.delete(w);
    });
  }

  private watches(w: Watcher, o: FakeKubeObject): boolean {
    const rt = this.typeForKind(o.apiVersion, o.kind);
    if (!rt || rt.plural !== w.rt.plural || rt.group !== w.rt.group) return false;
    if (w.rt.namespaced && w.namespace !== undefined && o.metadata.namespace !== w.namespace) return false;
    return matches(o.metadata.labels, w.selector);
  }

  // ---- storage ------------------------------------------------------------------------------------------

  private types(): ResourceType[] {
    return [...CORE, ...APPS, ...(this.chaosMeshInstalled ? CHAOS : [])];
  }

  private typeForKind(apiVersion: string, kind: string): ResourceType | undefined {
    return [...CORE, ...APPS, ...CHAOS].find((t) => apiVersionOf(t) === apiVersion && t.kind === kind);
  }

  private groupList(): unknown {
    const groups = new Map<string, string>();
    for (const t of this.types()) if (t.group) groups.set(t.group, t.version);
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...groups].map(([name, version]) => ({
        name,
        versions: [{ groupVersion: `${name}/${version}`, version }],
        preferredVersion: { groupVersion: `${name}/${version}`, version },
      })),
    };
  }

  private create(
    rt: ResourceType,
    namespace: string | undefined,
    body: FakeKubeObject,
    manager = 'fake',
    operation = 'Update',
  ): FakeKubeObject {
    const o = structuredClone(body);
    o.apiVersion = apiVersionOf(rt);
    o.kind = rt.kind;
    o.metadata = {
      ...o.metadata,
      ...(rt.namespaced ? { namespace } : {}),
      uid: randomUUID(),
      resourceVersion: '0',
      creationTimestamp: new Date().toISOString(),
      managedFields: [{ manager, operation, apiVersion: o.apiVersion, time: new Date().toISOString() }],
    };
    if (!rt.namespaced) delete o.metadata.namespace;
    if (rt.kind === 'Deployment') {
      o.metadata.generation = 1;
      o.status = {};
    }
    if (rt.kind === 'Namespace') o.status = { phase: 'Active' };
    this.store.set(key(rt.group, rt.plural, o.metadata.namespace, o.metadata.name), o);
    this.emit('ADDED', o);
    return o;
  }

  private update(o: FakeKubeObject): void {
    this.emit('MODIFIED', o);
  }

  private remove(group: string, plural: string, namespace: string | undefined, name: string): void {
    const k = key(group, plural, namespace, name);
    const o = this.store.get(k);
    if (!o) return;
    this.store.delete(k);
    this.emit('DELETED', o);
    // Garbage collection: a Deployment's pods, a namespace's contents.
    if (o.kind === 'Deployment') {
      for (const p of this.list('', 'pods', namespace)) {
        if (p.metadata.labels?.['fake.faultline.io/deployment'] === name)
          this.remove('', 'pods', namespace, p.metadata.name);
      }
    }
    if (o.kind === 'Namespace') {
      for (const [sk, so] of [...this.store]) {
        if (so.metadata.namespace === name) {
          const [g, pl] = sk.split('/') as [string, string];
          this.remove(g, pl, name, so.metadata.name);
        }
      }
    }
  }

  private emit(type: StoredEvent['type'], o: FakeKubeObject): void {
    this.rv += 1;
    o.metadata.resourceVersion = String(this.rv);
    const snapshot = structuredClone(o);
    const ev: StoredEvent = { rv: this.rv, type, key: '', object: snapshot };
    this.events.push(ev);
    for (const w of this.watchers)
      if (this.watches(w, snapshot)) w.res.write(JSON.stringify({ type, object: snapshot }) + '\n');
  }

  private later(fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, this.stepMs);
    this.timers.add(t);
  }

  // ---- Deployment controller -----------------------------------------------------------------------------

  /** Drives a Deployment to its desired state in two steps, like the ReplicaSet + kubelet would. */
  private reconcileDeployment(d: FakeKubeObject): void {
    const ns = d.metadata.namespace ?? '';
    const name = d.metadata.name;
    this.later(() => {
      const cur = this.get('apps', 'deployments', ns, name);
      if (!cur || this.stuck.has(name)) return;
      const want = typeof cur.spec?.replicas === 'number' ? cur.spec.replicas : 1;
      const template = (cur.spec?.template ?? {}) as {
        metadata?: { labels?: Record<string, string> };
        spec?: { containers?: { name: string }[] };
      };
      // pod-template-hash, as the ReplicaSet controller derives it: a new template replaces the pods.
      const podHash = createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 10);
      for (const p of this.list('', 'pods', ns)) {
        if (
          p.metadata.labels?.['fake.faultline.io/deployment'] === name &&
          p.metadata.labels['pod-template-hash'] !== podHash
        ) {
          this.remove('', 'pods', ns, p.metadata.name);
        }
      }
      const existing = this.list('', 'pods', ns).filter(
        (p) => p.metadata.labels?.['fake.faultline.io/deployment'] === name,
      );
      for (let i = existing.length; i < want; i++) {
        this.create(CORE[1] as ResourceType, ns, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: `${name}-${podHash}-${randomBytes(3).toString('hex').slice(0, 5)}`,
            labels: {
              ...(template.metadata?.labels ?? {}),
              'pod-template-hash': podHash,
              'fake.faultline.io/deployment': name,
            },
            ownerReferences: [
              {
                apiVersion: 'apps/v1',
                kind: 'ReplicaSet',
                name: `${name}-${podHash}`,
                uid: cur.metadata.uid,
                controller: true,
              },
            ],
          },
          spec: template.spec ?? {},
          status: {
            phase: 'Pending',
            conditions: [{ type: 'Ready', status: 'False' }],
            containerStatuses: (template.spec?.containers ?? [{ name: 'server' }]).map((c) => ({
              name: c.name,
              ready: false,
              restartCount: 0,
              state: { waiting: { reason: 'ContainerCreating' } },
            })),
          },
        } as unknown as FakeKubeObject);
      }
      cur.status = {
        observedGeneration: cur.metadata.generation,
        replicas: want,
        updatedReplicas: want,
        readyReplicas: 0,
        availableReplicas: 0,
        unavailableReplicas: want,
        conditions: [
          { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' },
          { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' },
        ],
      };
      this.update(cur);
      this.later(() => this.markRunning(ns, name));
    });
  }

  private markRunning(ns: string, name: string): void {
    const cur = this.get('apps', 'deployments', ns, name);
    if (!cur) return;
    let ready = 0;
    for (const p of this.list('', 'pods', ns)) {
      if (p.metadata.labels?.['fake.faultline.io/deployment'] !== name) continue;
      const st = p.status as {
        phase: string;
        startTime?: string;
        containerStatuses: { ready: boolean; state: unknown }[];
      };
      if (st.phase !== 'Running') {
        st.phase = 'Running';
        st.startTime = new Date().toISOString();
        for (const c of st.containerStatuses) {
          c.ready = true;
          c.state = { running: { startedAt: st.startTime } };
        }
        setPodReady(p, true);
        this.update(p);
      }
      ready++;
    }
    const want = typeof cur.spec?.replicas === 'number' ? cur.spec.replicas : 1;
    cur.status = {
      observedGeneration: cur.metadata.generation,
      replicas: want,
      updatedReplicas: want,
      readyReplicas: ready,
      availableReplicas: ready,
      conditions: [
        {
          type: 'Available',
          status: ready >= want ? 'True' : 'False',
          reason: ready >= want ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        },
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
      ],
    };
    this.update(cur);
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    if (res.headersSent) return;
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }
}

function setPodReady(pod: FakeKubeObject, ready: boolean): void {
  const st = pod.status as { conditions?: { type: string; status: string }[] };
  st.conditions = [
    ...(st.conditions ?? []).filter((c) => c.type !== 'Ready'),
    { type: 'Ready', status: ready ? 'True' : 'False' },
  ];
}

function key(group: string, plural: string, namespace: string | undefined, name: string): string {
  return `${group}/${plural}/${namespace ?? ''}/${name}`;
}

function apiVersionOf(rt: ResourceType): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

function qualified(rt: ResourceType): string {
  return rt.group ? `${rt.plural}.${rt.group}` : rt.plural;
}

function verbOf(method: string, named: boolean, watch: boolean): string {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : named ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PATCH':
      return 'patch';
    case 'PUT':
      return 'update';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function resourceList(groupVersion: string, types: ResourceType[]): unknown {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: types.flatMap((t) => [
      { name: t.plural, singularName: t.kind.toLowerCase(), namespaced: t.namespaced, kind: t.kind, verbs: t.verbs },
      ...(t.kind === 'Deployment' || t.kind === 'Pod'
        ? [
            {
              name: `${t.plural}/status`,
              singularName: '',
              namespaced: true,
              kind: t.kind,
              verbs: ['get', 'patch', 'update'],
            },
          ]
        : []),
    ]),
  };
}

/** Equality- and existence-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma = AND. */
export function matches(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  return selector.split(',').every((term) => {
    const t = term.trim();
    if (!t) return true;
    let m = /^([^!=]+)!=(.*)$/.exec(t);
    if (m) return l[(m[1] ?? '').trim()] !== (m[2] ?? '').trim();
    m = /^([^!=]+)==?(.*)$/.exec(t);
    if (m) return l[(m[1] ?? '').trim()] === (m[2] ?? '').trim();
    if (t.startsWith('!')) return !(t.slice(1) in l);
    return t in l;
  });
}

function mergePatch(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete target[k];
    else if (typeof v === 'object' && !Array.isArray(v) && typeof target[k] === 'object' && target[k] !== null)
      mergePatch(target[k] as Record<string, unknown>, v as Record<string, unknown>);
    else target[k] = v;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
