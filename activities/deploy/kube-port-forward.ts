import { lookup } from 'node:dns/promises';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { PortForward, type V1Service } from '@kubernetes/client-node';
import type { KubeClient } from './kube-client';
import { op, type ApiResource } from './kube-client';
import { KubeApiError, KubeForbiddenError, PortForwardError, describeOperation } from './kube-errors';

/**
 * Port-forwarding to a Service through the API server, for a faultline that runs outside the cluster (a laptop)
 * while frontendUrl/prometheusUrl name cluster-internal Services. Like `kubectl port-forward service/…`: the
 * Service's selector picks a ready pod, its targetPort (a number or a container port's name) the pod port, and
 * every local connection is one WebSocket port-forward stream (client-node's PortForward) to that pod. The pod is
 * re-picked when it goes away (a chaos campaign kills pods), so the forward outlives the pods it points at.
 */

const SERVICES: ApiResource = { group: '', version: 'v1', name: 'services', kind: 'Service', namespaced: true };
const PODS: ApiResource = { group: '', version: 'v1', name: 'pods', kind: 'Pod', namespaced: true };
const PORTFORWARD: ApiResource = {
  group: '',
  version: 'v1',
  name: 'pods/portforward',
  kind: 'Pod',
  namespaced: true,
};

/** RBAC the port-forward needs in the Service's namespace (KUBE_PERMISSIONS.portForward). */
export const PORT_FORWARD_PERMISSIONS = [
  { group: '', resource: 'services', verbs: ['get'] },
  { group: '', resource: 'pods', verbs: ['list'] },
  // client-node's port-forward is a WebSocket upgrade, a GET: authorized as `get` (1.34 checked exactly that);
  // clusters with AuthorizePodWebsocketUpgradeCreatePermission also check `create`, as kubectl's SPDY POST needs.
  { group: '', resource: 'pods/portforward', verbs: ['get', 'create'] },
] as const;

/** A cluster-internal Service named by a URL's host. */
export interface ServiceRef {
  namespace: string;
  service: string;
  port: number;
}

/**
 * The Service a URL names when its host is cluster DNS: `svc.ns.svc[.cluster.local]`, `svc.ns.svc.<domain>`,
 * or a bare `svc` (in `defaultNamespace`). undefined for any other host (an IP, localhost, a public name).
 */
export function clusterServiceOf(url: string, defaultNamespace: string): ServiceRef | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const host = u.hostname.toLowerCase();
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  const dns = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.[a-z0-9.-]+)?$/.exec(host);
  if (dns) return { service: dns[1] as string, namespace: dns[3] as string, port };
  if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(host) && host !== 'localhost' && !/^\d+$/.test(host))
    return { service: host, namespace: defaultNamespace, port };
  return undefined;
}

/** Whether a TCP connection to the URL's host:port opens within `timeoutMs` (DNS included). */
export async function reachable(url: string, timeoutMs = 1500): Promise<boolean> {
  const u = new URL(url);
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  try {
    await Promise.race([
      lookup(host),
      new Promise((_, reject) => setTimeout(() => reject(new Error('dns timeout')), timeoutMs).unref()),
    ]);
  } catch {
    return false;
  }
  return new Promise<boolean>((resolve) => {
    const s: Socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export interface ForwardOptions {
  log: (msg: string) => void;
  signal?: AbortSignal;
}

/** One Service port forwarded to 127.0.0.1:<localPort>. */
export class ServiceForward {
  readonly localPort: number;
  /** pods/portforward connections opened so far (tests read it). */
  connections = 0;
  private pod: { name: string; port: number; atMs: number } | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly reported = new Set<string>();
  private closed = false;
  /** The last failure the pod side reported (deploy quotes it when a request through the forward fails). */
  lastError: string | undefined;

  private constructor(
    private readonly client: KubeClient,
    readonly target: ServiceRef,
    private readonly server: Server,
    private readonly log: (msg: string) => void,
  ) {
    this.localPort = (server.address() as AddressInfo).port;
  }

  /** Resolves the Service and a ready pod (fails with the reason: no such Service, no ready pod, RBAC), then listens. */
  static async start(client: KubeClient, target: ServiceRef, opts: ForwardOptions): Promise<ServiceForward> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    server.unref();
    const fwd = new ServiceForward(client, target, server, opts.log);
    try {
      await fwd.resolvePod(opts.signal);
      await fwd.probe();
    } catch (err) {
      await fwd.close();
      throw err;
    }
    server.on('connection', (socket) => fwd.handle(socket));
    return fwd;
  }

  get url(): string {
    return `http://127.0.0.1:${this.localPort}`;
  }

  get describe(): string {
    return `Service ${this.target.namespace}/${this.target.service} port ${this.target.port}`;
  }

  /** The pod and pod port behind the Service now: a ready pod picked by the Service's selector (cached 2 s). */
  async resolvePod(signal?: AbortSignal): Promise<{ name: string; port: number }> {
    if (this.pod && Date.now() - this.pod.atMs < 2000) return this.pod;
    const { namespace, service, port } = this.target;
    const svc: V1Service = await this.client.call(
      op('get', SERVICES, namespace, service),
      () => this.client.core.readNamespacedService({ name: service, namespace }),
      signal,
    );
    const ports = svc.spec?.ports ?? [];
    const sp = ports.find((p) => p.port === port) ?? (ports.length === 1 ? ports[0] : undefined);
    if (!sp)
      throw new PortForwardError(
        `${this.describe}: the Service has no port ${port} (it has ${ports.map((p) => p.port).join(', ') || 'none'})`,
      );
    const selector = svc.spec?.selector ?? {};
    if (Object.keys(selector).length === 0)
      throw new PortForwardError(`${this.describe}: the Service has no selector, so there is no pod to forward to`);
    const list = await this.client.call(
      op('list', PODS, namespace),
      () =>
        this.client.core.listNamespacedPod({
          namespace,
          labelSelector: Object.entries(selector)
            .map(([k, v]) => `${k}=${v}`)
            .join(','),
        }),
      signal,
    );
    const ready = list.items
      .filter(
        (p) =>
          p.status?.phase === 'Running' &&
          !p.metadata?.deletionTimestamp &&
          (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
      )
      .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
    const pod = ready[0];
    if (!pod)
      throw new PortForwardError(
        `${this.describe}: no ready pod matches its selector ${JSON.stringify(selector)} (${list.items.length} pod(s) found)`,
      );
    let podPort: number;
    const tp = sp.targetPort;
    if (typeof tp === 'number') podPort = tp;
    else if (typeof tp === 'string' && /^\d+$/.test(tp)) podPort = Number(tp);
    else if (typeof tp === 'string') {
      const named = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []).find((p) => p.name === tp);
      if (!named)
        throw new PortForwardError(
          `${this.describe}: targetPort "${tp}" names no container port of pod ${pod.metadata?.name}`,
        );
      podPort = named.containerPort;
    } else podPort = sp.port;
    this.pod = { name: pod.metadata?.name ?? '', port: podPort, atMs: Date.now() };
    return this.pod;
  }

  /** Opens one stream and closes it: RBAC (pods/portforward) and the pod's reachability fail here, at set-up. */
  private async probe(): Promise<void> {
    const errText = await new Promise<string>((resolve, reject) => {
      let text = '';
      const input = new PassThrough();
      this.open(
        new Writable({ write: (_c, _e, cb) => cb() }),
        new Writable({
          write: (c: Buffer, _e, cb) => {
            text += c.toString('utf8');
            cb();
          },
        }),
        input,
      ).then((ws) => {
        setTimeout(() => {
          ws.close();
          resolve(text);
        }, 300);
      }, reject);
    });
    if (errText.trim()) this.report(`the pod answered the port-forward with an error: ${errText.trim()}`);
  }

  private async open(output: Writable, err: Writable, input: PassThrough) {
    const { name, port } = await this.resolvePod();
    const { namespace } = this.target;
    const pfOp = op('get', PORTFORWARD, namespace, name);
    this.connections++;
    try {
      const ws = await new PortForward(this.client.kubeConfig).portForward(namespace, name, [port], output, err, input);
      return typeof ws === 'function' ? (ws() as NonNullable<ReturnType<typeof ws>>) : ws;
    } catch (e) {
      this.pod = undefined; // re-pick next time (the pod may be gone)
      const msg = (e as { message?: string }).message ?? String(e);
      const code = /Unexpected server response: (\d+)/.exec(msg)?.[1];
      if (code === '403') throw new KubeForbiddenError(pfOp);
      if (code)
        throw new KubeApiError(
          `Kubernetes API: ${describeOperation(pfOp)} failed with ${code} (port ${port})`,
          Number(code),
          pfOp,
        );
      throw new PortForwardError(`${describeOperation(pfOp)} (port ${port}) failed: ${msg}`);
    }
  }

  private handle(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const input = new PassThrough();
    socket.pipe(input);
    let errText = '';
    const output = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        if (socket.destroyed) return cb();
        socket.write(chunk, () => cb());
      },
    });
    const errOut = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        errText += chunk.toString('utf8');
        cb();
      },
    });
    this.open(output, errOut, input).then(
      (ws) => {
        ws.on('close', () => {
          if (errText.trim()) {
            this.pod = undefined;
            this.report(`connection failed: ${errText.trim()}`);
          }
          socket.end();
        });
        ws.on('error', () => socket.destroy());
        socket.on('close', () => ws.close());
      },
      (err: Error) => {
        this.report(err.message);
        socket.destroy();
      },
    );
  }

  /** Logs a failure once per distinct message (a failing forward must not flood the log). */
  private report(msg: string): void {
    this.lastError = msg;
    if (this.reported.has(msg)) return;
    this.reported.add(msg);
    this.log(`port-forward to ${this.describe}: ${msg}`);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Forwards held by this process, keyed by API server + Service port, with the campaigns that use each. */
const forwards = new Map<string, { forward: Promise<ServiceForward>; users: Set<string> }>();

/** A forward to `target` for `campaignId` (one per Service port in this process, shared by campaigns). */
export async function acquireForward(
  client: KubeClient,
  target: ServiceRef,
  campaignId: string,
  opts: ForwardOptions,
): Promise<ServiceForward> {
  const key = `${client.server}|${target.namespace}/${target.service}:${target.port}`;
  let entry = forwards.get(key);
  if (!entry) {
    entry = { forward: ServiceForward.start(client, target, opts), users: new Set() };
    forwards.set(key, entry);
    entry.forward.catch(() => forwards.delete(key));
  }
  entry.users.add(campaignId);
  return entry.forward;
}

/** Closes the forwards only this campaign used. */
export async function releaseForwards(campaignId: string): Promise<number> {
  let n = 0;
  for (const [key, entry] of [...forwards]) {
    if (!entry.users.delete(campaignId) || entry.users.size > 0) continue;
    forwards.delete(key);
    const f = await entry.forward.catch(() => undefined);
    if (f) {
      await f.close();
      n++;
    }
  }
  return n;
}

/** Closes every forward of this process (tests; worker shutdown). */
export async function closeAllForwards(): Promise<void> {
  const all = [...forwards.values()];
  forwards.clear();
  for (const e of all) await (await e.forward.catch(() => undefined))?.close();
}
