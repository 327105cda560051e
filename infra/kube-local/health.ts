import http from 'node:http';
import https from 'node:https';

/**
 * GET url → 200 (and, with `expect`, a body containing it)? HTTPS without certificate checks: the components'
 * health endpoints on loopback serve self-signed certificates (controller-manager, scheduler).
 */
export function httpOk(url: string, opts: { timeoutMs?: number; expect?: string } = {}): Promise<boolean> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.get(u, { timeout: opts.timeoutMs ?? 2000, rejectUnauthorized: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve(
          res.statusCode === 200 &&
            (opts.expect === undefined || Buffer.concat(chunks).toString('utf8').includes(opts.expect)),
        ),
      );
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}
