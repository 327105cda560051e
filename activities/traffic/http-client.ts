import * as http from 'node:http';
import { performance } from 'node:perf_hooks';

/** Wall-clock epoch milliseconds with sub-millisecond resolution (monotonic within the process). */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** One request to make; `form` is sent as application/x-www-form-urlencoded. */
export interface RequestSpec {
  label: string;
  method: 'GET' | 'POST' | 'HEAD';
  path: string;
  form?: Record<string, string>;
  headers?: Record<string, string>;
}

/** What happened to one request, timed with `nowMs`. */
export interface HttpResult {
  /** HTTP status, or 0 when no response came */
  status: number;
  statusMessage: string;
  /** error kind for the summary: http_<code>, timeout, connection_refused, connection_reset, … */
  errorKind?: string;
  /** low-level error code (ECONNREFUSED, …) when no response came */
  errorCode?: string;
  errorMessage?: string;
  startMs: number;
  /** first response byte (headers parsed); equals endMs when no response came */
  firstByteMs: number;
  endMs: number;
  /** time to open the TCP connection; 0 when a kept-alive socket was reused */
  connectMs: number;
  bytes: number;
  sentBytes: number;
}

/**
 * A per-virtual-user cookie jar (one host, so domain/path matching is not needed). Keeps the
 * frontend's `shop_session-id` and `shop_currency` the way a browser would, and drops cookies the
 * server expires (`/logout` sends Max-Age=0 / a past Expires).
 */
export class CookieJar {
  private readonly cookies = new Map<string, string>();
  private cached: string | undefined;
  /** the last Set-Cookie line stored, when storing it again would change nothing */
  private lastLine: string | undefined;

  header(): string | undefined {
    if (this.cached === undefined && this.cookies.size > 0) {
      this.cached = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    return this.cached;
  }

  store(setCookie: string[] | undefined): void {
    if (!setCookie) return;
    for (const line of setCookie) {
      // servers often send the same Set-Cookie on every response: without an Expires date its effect
      // is the same each time
      if (line === this.lastLine) continue;
      this.lastLine = /expires/i.test(line) ? undefined : line;
      const parts = line.split(';');
      const first = parts[0] ?? '';
      const eq = first.indexOf('=');
      if (eq <= 0) continue;
      const name = first.slice(0, eq).trim();
      const value = first.slice(eq + 1).trim();
      let expired = value === '';
      for (let i = 1; i < parts.length; i++) {
        const [k, v] = (parts[i] as string).split('=').map((s) => s.trim());
        const key = (k ?? '').toLowerCase();
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && v && Date.parse(v) < Date.now()) expired = true;
      }
      if (expired) {
        if (this.cookies.delete(name)) this.cached = undefined;
      } else if (this.cookies.get(name) !== value) {
        // a server re-sending the cookie the jar holds (every response, for some) changes nothing
        this.cookies.set(name, value);
        this.cached = undefined;
      }
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }
}

/** Maps a Node socket error to the error kinds JMeter users know (connection refused/reset, timeout). */
export function errorKindOf(code: string | undefined): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection_refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection_reset';
    case 'ETIMEDOUT':
    case 'ESOCKETTIMEDOUT':
      return 'timeout';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns';
    case 'ECONNABORTED':
    case 'ABORT_ERR':
      return 'aborted';
    case undefined:
      return 'unknown';
    default:
      return `socket_${code.toLowerCase()}`;
  }
}

export interface SendOptions {
  agent: http.Agent;
  host: string;
  port: number;
  /** prefix of every path (a BASE_URL) */
  basePath: string;
  hostHeader: string;
  jar: CookieJar | undefined;
  timeoutMs: number;
  /**
   * Aborters of the requests in flight: the caller aborts them all at a hard stop. (A set rather than
   * an AbortSignal listener per request, which costs more than the rest of the bookkeeping together.)
   */
  inflight?: Set<() => void>;
}

/**
 * Sends one request on a keep-alive agent and reads the whole body (counting bytes, not keeping
 * them). Never rejects: failures come back as a result with status 0 and an error kind, so the
 * caller records every request exactly once. Redirects are not followed (JMeter's default for
 * "Redirect Automatically" off): a 302 is a successful sample.
 */
export function send(spec: RequestSpec, o: SendOptions): Promise<HttpResult> {
  return new Promise((resolve) => {
    const startMs = nowMs();
    let body: string | undefined;
    const headers: Record<string, string> = { 'user-agent': 'faultline-traffic/1', accept: 'text/html,*/*' };
    if (spec.form) {
      body = new URLSearchParams(spec.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const cookie = o.jar?.header();
    if (cookie) headers.cookie = cookie;
    if (spec.headers) Object.assign(headers, spec.headers);
    const path = o.basePath + spec.path;
    // request line + Host + headers + blank line + body, as sent on the wire
    let sentBytes = spec.method.length + path.length + 13 + o.hostHeader.length + 8;
    for (const k in headers) sentBytes += k.length + (headers[k] as string).length + 4;
    sentBytes += body ? Buffer.byteLength(body) : 0;

    let connectStart = 0;
    let connectMs = 0;
    let firstByteMs = 0;
    let bytes = 0;
    let done = false;
    const finish = (r: Omit<HttpResult, 'startMs' | 'connectMs' | 'sentBytes'>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.inflight?.delete(onAbort);
      resolve({ ...r, startMs, connectMs, sentBytes });
    };
    const fail = (code: string, message: string): void => {
      const endMs = nowMs();
      finish({
        status: 0,
        statusMessage: message,
        errorKind: errorKindOf(code),
        errorCode: code,
        errorMessage: message,
        firstByteMs: firstByteMs || endMs,
        endMs,
        bytes,
      });
    };
    const req = http.request({
      agent: o.agent,
      host: o.host,
      port: o.port,
      method: spec.method,
      path,
      headers,
      setHost: true,
    });
    const timer = setTimeout(() => {
      fail('ETIMEDOUT', `no complete response within ${o.timeoutMs} ms`);
      req.destroy();
    }, o.timeoutMs);
    const onAbort = (): void => {
      fail('ABORT_ERR', 'aborted');
      req.destroy();
    };
    o.inflight?.add(onAbort);
    req.on('socket', (socket) => {
      // a new socket is still connecting; a kept-alive one is not, and costs no connect time
      if (socket.connecting) {
        connectStart = nowMs();
        socket.once('connect', () => {
          connectMs = nowMs() - connectStart;
        });
      }
    });
    req.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'ERR', err.message));
    req.on('response', (res) => {
      firstByteMs = nowMs();
      o.jar?.store(res.headers['set-cookie']);
      // JMeter's bytes are the whole response: status line and headers as well as the body
      bytes += 17 + (res.statusMessage ?? '').length;
      for (const h of res.rawHeaders) bytes += h.length + 2;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? 'ERR', err.message));
      res.on('aborted', () => fail('ECONNRESET', 'response aborted'));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        finish({
          status,
          statusMessage: res.statusMessage ?? '',
          errorKind: status >= 400 ? `http_${status}` : undefined,
          firstByteMs,
          endMs: nowMs(),
          bytes,
        });
      });
    });
    req.end(body);
  });
}
