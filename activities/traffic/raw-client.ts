import * as net from 'node:net';
import { errorKindOf, nowMs, type CookieJar, type HttpResult, type RequestSpec } from './http-client';

/**
 * A minimal HTTP/1.1 client: kept-alive TCP connections, one request at a time on each, responses read
 * by a small parser (status line, headers, Content-Length / chunked / read-to-close bodies). It exists
 * because node:http's client costs 3–5× autocannon's CPU per request, which caps a 2-core generator
 * well below the server's capacity; this costs about what autocannon does while the engine still
 * records every request. Same contract as `send`: never fails, one result per request.
 *
 * The per-request path allocates little and arms no timer: a connection keeps its parser state in its
 * own fields, and one sweep per client (every tenth of the timeout, 10–250 ms) fails requests past their
 * deadline, so a timed-out request ends at most a tenth of the timeout late.
 */
export class RawClient {
  private readonly conns = new Set<RawConnection>();
  private sweeper: NodeJS.Timeout | undefined;
  /** request line tail and the headers every request carries, as sent on the wire */
  readonly fixedHead: string;

  constructor(
    readonly host: string,
    readonly port: number,
    hostHeader: string,
    /** prefix of every path (a BASE_URL) */
    readonly basePath: string,
    readonly timeoutMs: number,
  ) {
    this.fixedHead =
      ` HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: faultline-traffic/1\r\nAccept: text/html,*/*\r\n` +
      'Connection: keep-alive\r\n';
  }

  /** A new connection (opened lazily by its first request). */
  connection(): RawConnection {
    const c = new RawConnection(this);
    this.conns.add(c);
    if (!this.sweeper) {
      const tick = Math.min(250, Math.max(10, this.timeoutMs / 10));
      this.sweeper = setInterval(() => {
        const now = nowMs();
        for (const conn of this.conns) conn.checkTimeout(now);
      }, tick);
      this.sweeper.unref();
    }
    return c;
  }

  /** Aborts every request in flight (each ends as 'aborted'). */
  abortAll(): void {
    for (const c of this.conns) c.abort();
  }

  destroy(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const c of this.conns) c.destroy();
    this.conns.clear();
  }
}

const CRLF2 = Buffer.from('\r\n\r\n');
/** `remaining` before the response head is complete */
const IN_HEAD = -3;
const CHUNKED = -1;
const UNTIL_CLOSE = -2;

/** One kept-alive connection; at most one request in flight. */
export class RawConnection {
  private socket: net.Socket | undefined;
  private alive = false;
  // the request in flight (cb set while one is)
  private cb: ((r: HttpResult) => void) | undefined;
  private spec: RequestSpec | undefined;
  private jar: CookieJar | undefined;
  private reused = false;
  private retried = false;
  private deadline = 0;
  private startMs = 0;
  private connectStart = 0;
  private connectMs = 0;
  private sentBytes = 0;
  // parser state
  private firstByteMs = 0;
  private bytes = 0;
  private buf: Buffer | undefined;
  private status = 0;
  private statusMessage = '';
  /** body framing once the head is read: remaining Content-Length, CHUNKED or UNTIL_CLOSE; IN_HEAD before */
  private remaining = IN_HEAD;
  private close = false;
  private isHead = false;
  /** chunked: offset in buf where the next chunk-size line starts */
  private pos = 0;

  constructor(private readonly client: RawClient) {}

  destroy(): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.alive = false;
  }

  /** Aborts the request in flight (if any) as 'aborted'. */
  abort(): void {
    if (this.cb) this.fail('ABORT_ERR', 'aborted');
    this.destroy();
  }

  checkTimeout(now: number): void {
    if (this.cb && now >= this.deadline)
      this.fail('ETIMEDOUT', `no complete response within ${this.client.timeoutMs} ms`);
  }

  send(spec: RequestSpec, jar: CookieJar | undefined): Promise<HttpResult> {
    return new Promise((resolve) => this.request(spec, jar, resolve));
  }

  /**
   * Sends `spec` and calls `cb` once with its result (never synchronously). A kept-alive socket the
   * server closed while idle fails before any byte comes back: the request is retried once on a fresh
   * connection, as browsers and JMeter's HttpClient do.
   */
  request(spec: RequestSpec, jar: CookieJar | undefined, cb: (r: HttpResult) => void): void {
    this.spec = spec;
    this.jar = jar;
    this.cb = cb;
    this.retried = false;
    this.start();
  }

  private start(): void {
    const spec = this.spec as RequestSpec;
    const c = this.client;
    this.startMs = nowMs();
    this.deadline = this.startMs + c.timeoutMs;
    this.connectMs = 0;
    this.firstByteMs = 0;
    this.bytes = 0;
    this.buf = undefined;
    this.status = 0;
    this.statusMessage = '';
    this.remaining = IN_HEAD;
    this.close = false;
    this.pos = 0;
    this.isHead = spec.method === 'HEAD';
    let wire = spec.method + ' ' + c.basePath + spec.path + c.fixedHead;
    const cookie = this.jar?.header();
    if (cookie) wire += 'Cookie: ' + cookie + '\r\n';
    if (spec.headers) for (const k in spec.headers) wire += `${k}: ${spec.headers[k]}\r\n`;
    if (spec.form) {
      const body = new URLSearchParams(spec.form).toString();
      wire += `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    } else wire += '\r\n';
    this.sentBytes = Buffer.byteLength(wire);
    this.reused = this.alive;
    let sock = this.alive ? this.socket : undefined;
    if (!sock) sock = this.open();
    sock.write(wire);
  }

  private open(): net.Socket {
    this.socket?.destroy();
    const c = this.client;
    this.connectStart = nowMs();
    const s = net.connect({ host: c.host, port: c.port, noDelay: true });
    this.socket = s;
    this.alive = true;
    s.once('connect', () => {
      if (this.socket === s && this.cb) this.connectMs = nowMs() - this.connectStart;
    });
    s.on('data', (chunk: Buffer) => {
      if (this.socket === s) this.data(chunk);
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (this.socket === s) {
        this.alive = false;
        if (this.cb) this.fail(err.code ?? 'ERR', err.message);
      }
    });
    s.on('close', () => {
      if (this.socket === s) {
        this.alive = false;
        if (this.cb) this.closed();
      }
    });
    return s;
  }

  /** Ends the request in flight and hands its result over; `status` 0 means no response. */
  private finish(
    status: number,
    statusMessage: string,
    errorKind: string | undefined,
    errorCode: string | undefined,
    close: boolean,
  ): void {
    const cb = this.cb;
    if (!cb) return;
    this.cb = undefined;
    this.buf = undefined;
    const endMs = nowMs();
    if (close || status === 0) this.destroy();
    if (
      status === 0 &&
      this.reused &&
      !this.retried &&
      this.bytes === 0 &&
      (errorCode === 'ECONNRESET' || errorCode === 'EPIPE')
    ) {
      this.retried = true;
      this.cb = cb;
      this.start();
      return;
    }
    const r: HttpResult = {
      status,
      statusMessage,
      errorKind,
      errorCode,
      errorMessage: status === 0 ? statusMessage : undefined,
      startMs: this.startMs,
      firstByteMs: this.firstByteMs || endMs,
      endMs,
      connectMs: this.connectMs,
      bytes: this.bytes,
      sentBytes: this.sentBytes,
    };
    this.spec = undefined;
    this.jar = undefined;
    cb(r);
  }

  private fail(code: string, message: string): void {
    this.finish(0, message, errorKindOf(code), code, true);
  }

  private closed(): void {
    if (this.remaining === UNTIL_CLOSE) this.complete();
    else this.fail('ECONNRESET', this.status ? 'connection closed before the response ended' : 'socket hang up');
  }

  private complete(): void {
    const s = this.status;
    this.finish(s, this.statusMessage, s >= 400 ? `http_${s}` : undefined, undefined, this.close);
  }

  private data(chunk: Buffer): void {
    if (!this.cb) return; // nothing asked: bytes after a response (a misbehaving server) are ignored
    if (this.firstByteMs === 0) this.firstByteMs = nowMs();
    this.bytes += chunk.length;
    if (this.remaining === IN_HEAD) {
      const b = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
      const end = b.indexOf(CRLF2);
      if (end < 0) {
        this.buf = b;
        return;
      }
      this.buf = undefined;
      if (!this.head(b.toString('latin1', 0, end))) return;
      if ((this.remaining as number) === 0) return this.complete();
      if (end + 4 === b.length) return;
      chunk = b.subarray(end + 4);
    }
    if (this.remaining > 0) {
      this.remaining -= chunk.length;
      if (this.remaining <= 0) this.complete();
    } else if (this.remaining === CHUNKED) {
      this.chunked(chunk);
    }
    // UNTIL_CLOSE: read until the server closes
  }

  /** Parses the status line and headers; false (and the request failed) when it is not HTTP. */
  private head(head: string): boolean {
    let e = head.indexOf('\r\n');
    if (e < 0) e = head.length;
    // "HTTP/1.x ddd[ message]"
    const d0 = head.charCodeAt(9) - 48;
    const d1 = head.charCodeAt(10) - 48;
    const d2 = head.charCodeAt(11) - 48;
    if (
      e < 12 ||
      !head.startsWith('HTTP/1.') ||
      head.charCodeAt(8) !== 32 ||
      !(d0 >= 0 && d0 <= 9 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9) ||
      (e > 12 && head.charCodeAt(12) !== 32)
    ) {
      this.fail('EPROTO', `not an HTTP response: ${head.slice(0, Math.min(e, 80))}`);
      return false;
    }
    const status = d0 * 100 + d1 * 10 + d2;
    this.status = status;
    this.statusMessage = e > 13 ? head.slice(13, e) : '';
    let length = -1;
    let chunked = false;
    let cookies: string[] | undefined;
    let i = e + 2;
    while (i < head.length) {
      let end = head.indexOf('\r\n', i);
      if (end < 0) end = head.length;
      const c = head.indexOf(':', i);
      const n = c - i;
      // only the four headers that matter are looked at by name (set-cookie, content-length,
      // connection, transfer-encoding: first letter and length first)
      const f = head.charCodeAt(i) | 0x20;
      if (c > i && c < end && (f === 99 ? n === 14 || n === 10 : f === 115 ? n === 10 : f === 116 && n === 17)) {
        const name = head.slice(i, c).toLowerCase();
        if (name === 'set-cookie') (cookies ??= []).push(head.slice(c + 1, end).trim());
        else if (name === 'content-length') length = Number(head.slice(c + 1, end));
        else if (name === 'transfer-encoding') chunked = /chunked/i.test(head.slice(c + 1, end));
        else if (name === 'connection') this.close = /close/i.test(head.slice(c + 1, end));
      }
      i = end + 2;
    }
    if (cookies) this.jar?.store(cookies);
    if (this.isHead || status === 204 || status === 304 || (status >= 100 && status < 200)) this.remaining = 0;
    else if (chunked) this.remaining = CHUNKED;
    else if (length >= 0) this.remaining = length;
    else {
      this.remaining = UNTIL_CLOSE;
      this.close = true;
    }
    return true;
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
        if (end >= 0 || b.length >= nl + 4) return this.complete();
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
