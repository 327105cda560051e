import { readFileSync } from 'node:fs';
import https from 'node:https';

export interface ApiResponse {
  status: number;
  body: string;
  json<T = unknown>(): T;
}

/**
 * The few API calls the cluster's own start-up makes (node, CRDs, readiness), over HTTPS with the admin client
 * certificate. faultline's Kubernetes target has its own client (activities/deploy); this one only bootstraps.
 */
export class BootstrapApi {
  private readonly agent: https.Agent;
  constructor(
    readonly server: string,
    tls: { caCert: string; clientCert: string; clientKey: string },
  ) {
    this.agent = new https.Agent({
      ca: readFileSync(tls.caCert),
      cert: readFileSync(tls.clientCert),
      key: readFileSync(tls.clientKey),
      keepAlive: true,
      maxSockets: 8,
    });
  }

  request(
    method: string,
    path: string,
    body?: string,
    contentType = 'application/json',
    timeoutMs = 30_000,
  ): Promise<ApiResponse> {
    const url = new URL(path, this.server);
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        {
          method,
          agent: this.agent,
          timeout: timeoutMs,
          headers: {
            accept: 'application/json',
            ...(body !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(body) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, body: text, json: <T>() => JSON.parse(text) as T });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /** GET that resolves false instead of throwing (readiness polls). */
  async ok(path: string, timeoutMs = 2000): Promise<boolean> {
    try {
      return (await this.request('GET', path, undefined, undefined, timeoutMs)).status === 200;
    } catch {
      return false;
    }
  }

  close(): void {
    this.agent.destroy();
  }
}
