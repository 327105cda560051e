/** What a proxy needs from the supervisor: the ready pods of its app, in a stable order. */
export interface EndpointSource {
  readyPorts(app: string): number[];
  /** The pod currently serving on `port` (for faults limited to some pods). */
  podAt(app: string, port: number): string | undefined;
}

export interface ProxyMetrics {
  connection(app: string): void;
  noEndpoint(app: string): void;
  httpResponse(app: string, code: number): void;
  /** One HTTP request's time through the Service proxy, as the client saw it (faults' delays included). */
  httpDuration(app: string, seconds: number): void;
  /** Bytes that went to (rx) and came from (tx) one pod through the proxy: the pod's network counters. */
  podBytes(pod: string | undefined, rx: number, tx: number): void;
}

/** Round-robin over the ready endpoints, waiting up to `waitMs` for one to appear (a pod restarting). */
export async function pickEndpoint(
  source: EndpointSource,
  app: string,
  rr: { next: number },
  waitMs: number,
): Promise<number | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const ports = source.readyPorts(app);
    if (ports.length > 0) {
      const port = ports[rr.next % ports.length];
      rr.next = (rr.next + 1) % 1_000_000;
      return port;
    }
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, 50));
  }
}
