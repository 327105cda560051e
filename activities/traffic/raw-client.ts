import * as net from 'node:net';
import { errorKindOf, nowMs, type CookieJar, type HttpResult, type RequestSpec } from './http-client';

/**
 * A minimal HTTP/1.1 client on one kept-alive TCP connection: one request at a time, responses read
 * by a small parser (status line, headers, Content-Length / chunked / read-to-close bodies). It exists
 * because node:http's client costs 3–5× autocannon's CPU per request, which caps a 2-core generator
 * well below the server's capacity; this costs about what autocannon does while the engine still
 * records every request. Same contract as `send`: never rejects, one result per request.
 */
export class RawConnection {
  private socket: net.Socket | undefined;
  private alive = false;
  private cur: Pending | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly hostHeader: string,
  ) {}

  destroy(): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.alive = false;
  }

  /** Aborts the request in flight (if any) as 'aborted'. */
  abort(): void {
    this.cur?.fail('ABORT_ERR', 'aborted');
    this.destroy();
  }

  async send(spec: RequestSpec, basePath: string, jar: CookieJar | undefined, timeoutMs: number): Promise<HttpResult> {
    const reused = this.alive;
    const r = await this.once(spec, basePath, jar, timeoutMs);
    // a kept-alive socket the server closed while idle fails before any byte comes back: retry once on
    // a fresh connection, as browsers and JMeter's HttpClient do
    if (reused && r.status === 0 && r.bytes === 0 && (r.errorCode === 'ECONNRESET' || r.errorCode === 'EPIPE')) {
      return this.once(spec, basePath, jar, timeoutMs);
    }
    return r;
  }

  private once(
    spec: RequestSpec,
    basePath: string,
    jar: CookieJar | undefined,
    timeoutMs: number,
  ): Promise<HttpResult> {
    return new Promise((resolve) => {
      const startMs = nowMs();
      let head = `${spec.method} ${basePath}${spec.path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\nUser-Agent: faultline-traffic/1\r\nAccept: text/html,*/*\r\nConnection: keep-alive\r\n`;
      const cookie = jar?.header();
      if (cookie) head += `Cookie: ${cookie}\r\n`;
      if (spec.headers) for (const k in spec.headers) head += `${k}: ${spec.headers[k]}\r\n`;
      let body = '';
      if (spec.form) {
        body = new URLSearchParams(spec.form).toString();
        head += `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
      }
      const wire = head + '\r\n' + body;
      const p = new Pending(spec.method === 'HEAD', startMs, Buffer.byteLength(wire), jar, (res, close) => {
        clearTimeout(timer);
        this.cur = undefined;
        if (close || res.status === 0) this.destroy();
        resolve(res);
      });
      this.cur = p;
      const timer = setTimeout(() => p.fail('ETIMEDOUT', `no complete response within ${timeoutMs} ms`), timeoutMs);
      let sock = this.alive ? this.socket : undefined;
      if (!sock) {
        this.socket?.destroy();
        const connectStart = nowMs();
        sock = net.connect({ host: this.host, port: this.port, noDelay: true });
        this.socket = sock;
        this.alive = true;
        const s = sock;
        s.once('connect', () => {
          if (this.cur) this.cur.connectMs = nowMs() - connectStart;
        });
        s.on('data', (chunk: Buffer) => {
          if (this.cur && this.socket === s) this.cur.data(chunk);
        });
        s.on('error', (err: NodeJS.ErrnoException) => {
          if (this.socket === s) {
            this.alive = false;
            this.cur?.fail(err.code ?? 'ERR', err.message);
          }
        });
        s.on('close', () => {
          if (this.socket === s) {
            this.alive = false;
            this.cur?.closed();
          }
        });
      }
      sock.write(wire);
    });
  }
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** One request awaiting its response: the parser state. */
class Pending {
  connectMs = 0;
  private firstByteMs = 0;
  private bytes = 0;
  private buf: Buffer | undefined;
  private status = 0;
  private statusMessage = '';
  /** body framing once headers are read: remaining Content-Length, -1 chunked, -2 until close */
  private remaining = -3;
  private close = false;
  private done = false;
  /** chunked: offset in buf where the next chunk-size line starts */
  private pos = 0;

  constructor(
    private readonly isHead: boolean,
    private readonly startMs: number,
    private readonly sentBytes: number,
    private readonly jar: CookieJar | undefined,
    private readonly onDone: (r: HttpResult, close: boolean) => void,
  ) {}

  private finish(
    r: Omit<HttpResult, 'startMs' | 'connectMs' | 'sentBytes' | 'firstByteMs' | 'bytes' | 'endMs'>,
    close: boolean,
  ): void {
    if (this.done) return;
    this.done = true;
    const endMs = nowMs();
    this.onDone(
      {
        ...r,
        startMs: this.startMs,
        connectMs: this.connectMs,
        sentBytes: this.sentBytes,
        firstByteMs: this.firstByteMs || endMs,
        endMs,
        bytes: this.bytes,
      },
      close,
    );
  }

  fail(code: string, message: string): void {
    this.finish(
      { status: 0, statusMessage: message, errorKind: errorKindOf(code), errorCode: code, errorMessage: message },
      true,
    );
  }

  closed(): void {
    if (this.remaining === -2) this.complete();
    else this.fail('ECONNRESET', this.status ? 'connection closed before the response ended' : 'socket hang up');
  }

  private complete(): void {
    this.finish(
      {
        status: this.status,
        statusMessage: this.statusMessage,
        errorKind: this.status >= 400 ? `http_${this.status}` : undefined,
      },
      this.close,
    );
  }

  data(chunk: Buffer): void {
    if (this.done) return;
    if (!this.firstByteMs) this.firstByteMs = nowMs();
    this.bytes += chunk.length;
    if (this.remaining === -3) {
      this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
      const end = this.buf.indexOf(CRLF2);
      if (end < 0) return;
      this.headers(this.buf.toString('latin1', 0, end));
      if (this.done) return;
      const rest = this.buf.subarray(end + 4);
      this.buf = undefined;
      if ((this.remaining as number) === 0) return this.complete();
      if (rest.length === 0) return;
      chunk = rest;
    }
    if (this.remaining > 0) {
      this.remaining -= chunk.length;
      if (this.remaining <= 0) this.complete();
    } else if (this.remaining === -1) {
      this.chunked(chunk);
    }
    // -2: read until the server closes
  }

  private headers(head: string): void {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0] ?? '');
    if (!m) return this.fail('EPROTO', `not an HTTP response: ${(lines[0] ?? '').slice(0, 80)}`);
    this.status = Number(m[1]);
    this.statusMessage = m[2] ?? '';
    let length = -1;
    let chunked = false;
    const cookies: string[] = [];
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const c = line.indexOf(':');
      if (c <= 0) continue;
      const name = line.slice(0, c).toLowerCase();
      const value = line.slice(c + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding') chunked = /chunked/i.test(value);
      else if (name === 'connection') this.close = /close/i.test(value);
      else if (name === 'set-cookie') cookies.push(value);
    }
    if (cookies.length) this.jar?.store(cookies);
    if (this.isHead || this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200))
      this.remaining = 0;
    else if (chunked) this.remaining = -1;
    else if (length >= 0) this.remaining = length;
    else {
      this.remaining = -2;
      this.close = true;
    }
  }

  /** Walks chunk-size lines; the body ends at the zero-size chunk and its blank line. */
  private chunked(chunk: Buffer): void {
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    const b = this.buf;
    for (;;) {
      const nl = b.indexOf('\r\n', this.pos, 'latin1');
      if (nl < 0) break;
      const size = parseInt(b.toString('latin1', this.pos, nl), 16);
      if (Number.isNaN(size)) return this.fail('EPROTO', 'bad chunk size');
      if (size === 0) {
        // last chunk: optional trailers, then a blank line
        const end = b.indexOf(CRLF2, nl - 2 >= 0 ? nl - 2 : 0);
        if (end >= 0 || b.length >= nl + 4) {
          this.buf = undefined;
          return this.complete();
        }
        break;
      }
      const next = nl + 2 + size + 2;
      if (next > b.length) break;
      this.pos = next;
    }
    // keep only what is still unparsed
    if (this.pos > 0) {
      this.buf = b.subarray(this.pos);
      this.pos = 0;
    }
  }
}
