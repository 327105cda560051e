import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * A small HTTP proxy in front of a REAL API server, for the failures a healthy control plane does not produce on
 * demand: 429/5xx answers, reset connections, dropped watch streams and 410 Gone on a watch. Clients talk plain
 * HTTP to it with no credentials (see `writeKubeconfig`); it forwards every request over TLS with the upstream
 * kubeconfig's credentials (client certificate or token) and records what passed (method, path, query, status).
 * Everything else — objects, validation, RBAC, watches — is the real API server's.
 */

export interface ProxiedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** What the client got (0 when the connection was reset). */
  status: number;
  /** Set when the proxy answered instead of the API server: 'status', 'reset', 'gone', 'dropped'. */
  injected?: string;
}

type Match = (r: { method: string; path: string; query: Record<string, string> }) => boolean;
interface Rule {
  left: number;
  match: Match;
  action: { kind: 'status'; status: number; retryAfterS?: number } | { kind: 'reset' } | { kind: 'gone' };
}

export class KubeFaultProxy {
  readonly requests: ProxiedRequest[] = [];
  private readonly rules: Rule[] = [];
  private readonly watches = new Set<{ match: ProxiedRequest; res: http.ServerResponse; up: http.ClientRequest }>();

  private constructor(
    private readonly server: http.Server,
    private readonly upstream: URL,
    private readonly agent: https.Agent,
    private readonly authHeaders: Record<string, string>,
  ) {}

  /** Starts on 127.0.0.1 in front of the kubeconfig's current cluster, with its current user's credentials. */
  static async start(kc: KubeConfig): Promise<KubeFaultProxy> {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const agent = new https.Agent({
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      keepAlive: true,
      ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
    const server = http.createServer();
    const proxy = new KubeFaultProxy(server, new URL(cluster.server), agent, headers);
    server.on('request', (req, res) => proxy.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A kubeconfig whose cluster is this proxy (no credentials: the proxy adds the upstream's). */
  writeKubeconfig(dir: string, name = 'fault-proxy.kubeconfig'): string {
    const path = join(dir, name);
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        // client-node refuses a plain-http server unless TLS verification is (trivially) off
        `clusters: [{name: proxy, cluster: {server: "${this.url}", insecure-skip-tls-verify: true}}]`,
        'users: [{name: anonymous, user: {}}]',
        'contexts: [{name: proxy, context: {cluster: proxy, user: anonymous}}]',
        'current-context: proxy',
        '',
      ].join('\n'),
    );
    return path;
  }

  /** The next `n` matching requests get `status` (a Kubernetes Status body) instead of the API server's answer. */
  failNext(n: number, status: number, match: Match = () => true, retryAfterS?: number): void {
    this.rules.push({ left: n, match, action: { kind: 'status', status, retryAfterS } });
  }

  /** The next `n` matching requests have their connection reset with no answer (a network failure). */
  resetNext(n: number, match: Match = () => true): void {
    this.rules.push({ left: n, match, action: { kind: 'reset' } });
  }

  /** The next matching watch gets what the API server sends for a compacted resourceVersion: 200 + an ERROR 410 event. */
  goneNextWatch(match: Match = () => true): void {
    this.rules.push({ left: 1, match: (r) => r.query.watch === 'true' && match(r), action: { kind: 'gone' } });
  }

  /** Cuts every open watch stream that matches, mid-stream (the client sees the connection drop). Returns how many. */
  dropWatches(match: Match = () => true): number {
    let n = 0;
    for (const w of [...this.watches]) {
      if (!match(w.match)) continue;
      w.match.injected = 'dropped';
      w.up.destroy();
      w.res.destroy();
      this.watches.delete(w);
      n++;
    }
    return n;
  }

  /** Open watch streams now. */
  openWatches(match: Match = () => true): number {
    return [...this.watches].filter((w) => match(w.match)).length;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://proxy');
    const query = Object.fromEntries(u.searchParams);
    const rec: ProxiedRequest = { method: req.method ?? 'GET', path: u.pathname, query, status: 0 };
    this.requests.push(rec);
    const rule = this.rules.find((r) => r.left > 0 && r.match(rec));
    if (rule) {
      rule.left--;
      const a = rule.action;
      if (a.kind === 'reset') {
        rec.injected = 'reset';
        req.resume();
        req.socket.destroy();
        return;
      }
      if (a.kind === 'status') {
        rec.injected = 'status';
        rec.status = a.status;
        req.resume();
        const body = JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message:
            a.status === 429 ? 'Too many requests, please try again later.' : `injected ${a.status} by the fault proxy`,
          reason: a.status === 429 ? 'TooManyRequests' : 'InternalError',
          code: a.status,
        });
        res.writeHead(a.status, {
          'Content-Type': 'application/json',
          ...(a.retryAfterS !== undefined ? { 'Retry-After': String(a.retryAfterS) } : {}),
        });
        res.end(body);
        return;
      }
      rec.injected = 'gone';
      rec.status = 200;
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        `${JSON.stringify({
          type: 'ERROR',
          object: {
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            message: `too old resource version: ${query.resourceVersion ?? ''} (injected by the fault proxy)`,
            reason: 'Expired',
            code: 410,
          },
        })}\n`,
      );
      return;
    }
    const headers: http.OutgoingHttpHeaders = { ...req.headers, ...this.authHeaders, host: this.upstream.host };
    delete headers.connection;
    const up = https.request(
      new URL(req.url ?? '/', this.upstream),
      { method: req.method, headers, agent: this.agent },
      (upRes) => {
        rec.status = upRes.statusCode ?? 0;
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        if (query.watch === 'true') {
          const w = { match: rec, res, up };
          this.watches.add(w);
          const gone = () => this.watches.delete(w);
          upRes.on('end', gone);
          res.on('close', () => {
            gone();
            up.destroy();
          });
        }
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  }

  async close(): Promise<void> {
    this.dropWatches();
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
