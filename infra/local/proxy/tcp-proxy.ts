import net from 'node:net';
import { listenOn } from '../listen';
import { chunkDelayMs, type FaultTable } from './faults';
import { pickEndpoint, type EndpointSource, type ProxyMetrics } from './endpoints';

/**
 * The Service of a gRPC app: a TCP proxy on the public port that spreads connections round-robin over the ready
 * pods (gRPC keeps one HTTP/2 connection, so like a ClusterIP it balances per connection). `delay`/`loss` faults
 * act on the pod → client direction (the pod's egress, where Chaos Mesh's netem sits); chunks keep their order.
 */
export class TcpProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly rr = { next: 0 };

  constructor(
    private readonly app: string,
    private readonly host: string,
    private readonly port: number,
    private readonly endpoints: EndpointSource,
    private readonly faults: FaultTable,
    private readonly metrics: ProxyMetrics,
    private readonly noEndpointWaitMs: number,
  ) {}

  listen(): Promise<void> {
    const server = net.createServer((client) => {
      this.handle(client).catch(() => client.destroy());
    });
    this.server = server;
    return listenOn(server, this.host, this.port, `target.basePort (the ${this.app} service's port)`);
  }

  private async handle(client: net.Socket): Promise<void> {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    this.metrics.connection(this.app);
    const port = await pickEndpoint(this.endpoints, this.app, this.rr, this.noEndpointWaitMs);
    if (port === undefined || client.destroyed) {
      // No ready pod: refuse the way a Service without endpoints does (the connection fails).
      this.metrics.noEndpoint(this.app);
      client.destroy();
      return;
    }
    // the pod is fixed for the connection's life (a replacement pod means a new connection)
    const pod = this.endpoints.podAt(this.app, port);
    const upstream = net.connect(port, '127.0.0.1');
    this.sockets.add(upstream);
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => upstream.destroy());
    upstream.on('connect', () => client.resume());
    client.pipe(upstream);
    // the pod's network counters (cAdvisor-named in the supervisor's metrics): bytes to it, bytes from it
    client.on('data', (chunk: Buffer) => this.metrics.podBytes(pod, chunk.length, 0));

    // pod → client, through the fault model. `due` keeps chunk order when delays vary per chunk.
    let due = 0;
    let queued = 0;
    upstream.on('data', (chunk: Buffer) => {
      this.metrics.podBytes(pod, 0, chunk.length);
      const faults = this.faults.active(this.app, pod);
      if (faults.length === 0 && queued === 0) {
        if (!client.write(chunk)) upstream.pause();
        return;
      }
      const at = Math.max(Date.now() + chunkDelayMs(faults), due);
      due = at;
      queued++;
      setTimeout(
        () => {
          queued--;
          if (!client.destroyed && !client.write(chunk)) upstream.pause();
        },
        Math.max(0, at - Date.now()),
      );
    });
    client.on('drain', () => upstream.resume());
    upstream.on('end', () => {
      // half-close after the delayed chunks have gone out
      const wait = Math.max(0, due - Date.now());
      setTimeout(() => client.end(), wait);
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
