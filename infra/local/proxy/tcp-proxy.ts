import net from 'node:net';
import { listenOn } from '../listen';
import { chunkDelayMs, type FaultTable } from './faults';
import { queueLimitBytes } from './bandwidth';
import { pickEndpoint, type EndpointSource, type ProxyMetrics } from './endpoints';

/**
 * The Service of a gRPC app: a TCP proxy on the public port that spreads connections round-robin over the ready
 * pods (gRPC keeps one HTTP/2 connection, so like a ClusterIP it balances per connection). `delay`/`loss` faults
 * act on the pod → client direction (the pod's egress, where Chaos Mesh's netem sits); chunks keep their order.
 * `bandwidth` shapes the same direction through the app's token bucket (FaultTable.shapers).
 *
 * With `caller` set, this is one caller's own route to the app (AppSpec.routes): a `partition` fault from that
 * caller black-holes it. New connections are accepted and then hang (never reach a pod); on open connections no
 * byte passes either way. Bytes are held, not dropped, and flow again when the partition ends, as TCP
 * retransmits through an iptables DROP that is lifted: a dropped byte would corrupt the HTTP/2 stream for good,
 * and an RST would be a different fault (connection refused fails fast, a partition times out).
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
    /** The calling app when this proxy is that caller's own route (partition faults cut it). */
    private readonly caller?: string,
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
    const cut = () => this.faults.partitioned(this.app, this.caller, pod);
    // a partitioned caller's new connection hangs here (its SYN black-holed) until the partition ends
    while (cut()) {
      if (client.destroyed) return;
      await new Promise((r) => setTimeout(r, PARTITION_POLL_MS));
    }
    if (client.destroyed) return;
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
    const gate = new PartitionGate(cut, [client, upstream]);
    client.on('close', () => gate.close());

    // client → pod. The pod's network counters (cAdvisor-named in the supervisor's metrics): bytes to it, from it.
    if (this.caller === undefined) {
      // a Service port is never partitioned: pipe() as before the per-caller routes (it also forwards the
      // client's half-close, and a hand-written copy of it left a connection stalled now and then under load)
      client.pipe(upstream);
      client.on('data', (chunk: Buffer) => this.metrics.podBytes(pod, chunk.length, 0));
    } else {
      client.on('data', (chunk: Buffer) => {
        this.metrics.podBytes(pod, chunk.length, 0);
        gate.pass(0, chunk, () => {
          if (!upstream.write(chunk)) client.pause();
        });
      });
      upstream.on('drain', () => gate.resumeIfOpen(client));
      client.on('end', () => gate.pass(0, Buffer.alloc(0), () => upstream.end()));
    }

    // pod → client, through the fault model; the queue below keeps chunk order when delays vary per chunk.
    let queuedBytes = 0;
    let shaping = false;
    let shapingLimit = 0;
    /**
     * A bandwidth queue that stopped reading from the pod (`shaping`) starts reading again once it has drained to
     * half its limit. Checked after each queued write and on the client's 'drain': when the last queued chunk
     * met a full client socket, no later write comes to check, and only 'drain' can end the shaping (waiting for a
     * write there left the connection stalled for good, the deadline-exceeded flake of the gRPC bandwidth test).
     */
    const endShapingIfDrained = () => {
      if (shaping && queuedBytes < shapingLimit / 2) shaping = false;
      if (!shaping) gate.resumeIfOpen(upstream);
    };
    /**
     * The delayed chunks in arrival order, sent by ONE timer that always waits for the head. A timer per chunk
     * is not enough: each is due at `start + delay` with `start` the event loop's cached clock, while the delay
     * was computed from Date.now(), so two chunks due within a millisecond could fire in the wrong order, and a
     * gRPC (HTTP/2) stream whose bytes arrive out of order hangs until its deadline — the rare stall of the
     * bandwidth tests.
     */
    const pending: { chunk: Buffer; at: number }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => {
      timer = setTimeout(flush, Math.max(0, pending[0]!.at - Date.now()));
    };
    const flush = () => {
      timer = undefined;
      if (client.destroyed) return;
      let full = false;
      while (pending.length > 0 && pending[0]!.at <= Date.now()) {
        const { chunk } = pending.shift()!;
        queuedBytes -= chunk.length;
        full = !client.write(chunk) || full;
      }
      if (full) upstream.pause();
      else if (shaping) endShapingIfDrained();
      if (pending.length > 0) schedule();
    };
    client.on('close', () => clearTimeout(timer));
    const toClient = (chunk: Buffer) => {
      const faults = this.faults.active(this.app, pod);
      if (faults.length === 0 && pending.length === 0) {
        if (!client.write(chunk)) upstream.pause();
        return;
      }
      const now = Date.now();
      const shaped = this.faults.shapers.delayMs(faults, pod, chunk.length, now);
      const at = now + Math.max(chunkDelayMs(faults), shaped);
      queuedBytes += chunk.length;
      // a bandwidth fault's queue limit: beyond it stop reading from the pod (flow control, not drops)
      const limit = queueLimitBytes(faults);
      if (limit !== undefined && queuedBytes >= limit) {
        shaping = true;
        shapingLimit = limit;
        upstream.pause();
      }
      pending.push({ chunk, at });
      if (pending.length === 1) schedule();
    };
    upstream.on('data', (chunk: Buffer) => {
      this.metrics.podBytes(pod, 0, chunk.length);
      gate.pass(1, chunk, () => toClient(chunk));
    });
    client.on('drain', endShapingIfDrained);
    upstream.on('end', () => {
      // half-close after the delayed (and held) chunks have gone out
      const finish = () => {
        if (gate.holding()) {
          setTimeout(finish, PARTITION_POLL_MS);
          return;
        }
        // after the queue's last chunk (not by the clock: the queue's timer may fire a little later)
        if (pending.length > 0) {
          setTimeout(finish, Math.max(1, pending[pending.length - 1]!.at - Date.now()));
          return;
        }
        client.end();
      };
      finish();
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}

/** How often a held connection looks whether its partition ended (the fault's end shows within this). */
const PARTITION_POLL_MS = 100;

/**
 * The black hole of one connection: while `cut()` holds, chunks in either direction (0: client → pod, 1: pod →
 * client) are kept in order and both sockets stop being read; when it ends they go out in order and reading
 * resumes. Checked per chunk, so a connection with no partition pays one table look-up per chunk.
 */
class PartitionGate {
  private readonly held: [Buffer, () => void][][] = [[], []];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly cut: () => boolean,
    private readonly sockets: net.Socket[],
  ) {}

  pass(dir: 0 | 1, chunk: Buffer, deliver: () => void): void {
    const q = this.held[dir] as [Buffer, () => void][];
    if (q.length === 0 && !this.timer && !this.cut()) {
      deliver();
      return;
    }
    q.push([chunk, deliver]);
    for (const s of this.sockets) s.pause();
    this.timer ??= setInterval(() => this.flushIfOpen(), PARTITION_POLL_MS);
  }

  private flushIfOpen(): void {
    if (this.cut()) return;
    clearInterval(this.timer);
    this.timer = undefined;
    // resume first: a delivery that meets a full socket pauses its source again
    for (const s of this.sockets) if (!s.destroyed) s.resume();
    for (const q of this.held) for (const [, deliver] of q.splice(0)) deliver();
  }

  /** Resumes reading from `s` unless the partition holds the connection. */
  resumeIfOpen(s: net.Socket): void {
    if (!this.timer) s.resume();
  }

  holding(): boolean {
    return this.timer !== undefined;
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
