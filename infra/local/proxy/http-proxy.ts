import http from 'node:http';
import { listenOn } from '../listen';
import { chunkDelayMs, httpDecision, type FaultTable } from './faults';
import { pickEndpoint, type EndpointSource, type ProxyMetrics } from './endpoints';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bytes of a message head as it crosses the wire: start line + `name: value` lines + blank line. */
function headBytes(startLine: string, rawHeaders: string[]): number {
  let n = Buffer.byteLength(startLine) + 4;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    n += Buffer.byteLength(rawHeaders[i] ?? '') + Buffer.byteLength(rawHeaders[i + 1] ?? '') + 4;
  }
  return n;
}

/**
 * The Service of an HTTP app (the frontend): a reverse proxy that balances per request over ready pods and
 * applies HTTPChaos-like faults (`http-abort`: answer `statusCode` without reaching the pod; `http-delay`:
 * hold the request before forwarding) and the network faults (`delay`/`loss`: hold the response before it
 * leaves, using the same per-chunk model as the TCP proxy, applied once per response).
 */
export class HttpProxy {
  private server?: http.Server;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly rr = { next: 0 };

  constructor(
    private readonly app: string,
    private readonly host: string,
    private readonly port: number,
    private readonly endpoints: EndpointSource,
    private readonly faults: FaultTable,
    private readonly metrics: ProxyMetrics,
    private readonly noEndpointWaitMs: number,
    /** The calling app when this proxy is that caller's own route (a partition from it holds its requests). */
    private readonly caller?: string,
  ) {}

  listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, 502, `proxy error: ${String(err)}`));
    });
    server.keepAliveTimeout = 65_000;
    this.server = server;
    return listenOn(server, this.host, this.port, `target.basePort (the ${this.app} service's port)`);
  }

  private fail(res: http.ServerResponse, code: number, text: string): void {
    this.metrics.httpResponse(this.app, code);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'x-faultline-proxy': this.app });
    res.end(text + '\n');
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // the service's latency as its clients see it: the pod's own histogram stops before a delayed or
    // aborted response leaves the proxy
    const t0 = performance.now();
    res.on('finish', () => this.metrics.httpDuration(this.app, (performance.now() - t0) / 1000));
    const port = await pickEndpoint(this.endpoints, this.app, this.rr, this.noEndpointWaitMs);
    if (port === undefined) {
      req.resume();
      this.fail(res, 503, `no endpoints available for service "${this.app}"`);
      return;
    }
    const pod = this.endpoints.podAt(this.app, port);
    // a partitioned caller's request hangs (black-holed) until the partition ends or the caller gives up
    while (this.faults.partitioned(this.app, this.caller, pod)) {
      if (res.destroyed || req.destroyed) return;
      await sleep(100);
    }
    const decision = httpDecision(this.faults.active(this.app, pod));
    if (decision.delayMs > 0) await sleep(decision.delayMs);
    if (decision.abortStatus !== undefined) {
      req.resume();
      this.fail(res, decision.abortStatus, `fault injected: http-abort ${decision.abortStatus}`);
      return;
    }
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    // the pod's network counters: the request (head + body) is what it receives, the response what it sends
    this.metrics.podBytes(pod, headBytes(`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`, req.rawHeaders), 0);
    const upstream = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers, agent: this.agent },
      (up) => {
        this.metrics.podBytes(
          pod,
          0,
          headBytes(`HTTP/1.1 ${up.statusCode ?? 0} ${up.statusMessage ?? ''}`, up.rawHeaders),
        );
        const netDelay = chunkDelayMs(this.faults.active(this.app, pod));
        const send = () => {
          const out: http.OutgoingHttpHeaders = {};
          for (const [k, v] of Object.entries(up.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
          this.metrics.httpResponse(this.app, up.statusCode ?? 502);
          res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
          if (this.faults.active(this.app, pod).some((f) => f.kind === 'bandwidth')) {
            this.shaped(up, res, pod);
            return;
          }
          up.pipe(res);
          // after pipe: a 'data' listener alone would start the flow before a delayed send attaches the pipe
          up.on('data', (chunk: Buffer) => this.metrics.podBytes(pod, 0, chunk.length));
        };
        if (netDelay > 0) setTimeout(send, netDelay);
        else send();
      },
    );
    upstream.on('error', (err) => this.fail(res, 502, `upstream pod of "${this.app}" failed: ${err.message}`));
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
    req.on('data', (chunk: Buffer) => this.metrics.podBytes(pod, chunk.length, 0));
  }

  /**
   * The response body through the app's bandwidth token bucket: one chunk in flight, each sent when the bucket has
   * paid for it (the bucket is shared with every other response from that pod, like tbf on its interface).
   */
  private shaped(up: http.IncomingMessage, res: http.ServerResponse, pod: string | undefined): void {
    let waiting = 0;
    let ended = false;
    const endIfDone = () => {
      if (ended && waiting === 0) res.end();
    };
    up.on('data', (chunk: Buffer) => {
      this.metrics.podBytes(pod, 0, chunk.length);
      const wait = this.faults.shapers.delayMs(this.faults.active(this.app, pod), pod, chunk.length);
      if (wait <= 0) {
        if (!res.write(chunk)) {
          up.pause();
          res.once('drain', () => up.resume());
        }
        return;
      }
      up.pause();
      waiting++;
      setTimeout(() => {
        waiting--;
        if (res.destroyed) return;
        if (res.write(chunk)) up.resume();
        else res.once('drain', () => up.resume());
        endIfDone();
      }, wait);
    });
    // 'end' can come while the last chunk still waits for its tokens: the response ends after that chunk
    up.on('end', () => {
      ended = true;
      endIfDone();
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
    const server = this.server;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }
}
