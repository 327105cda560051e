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
  /** where every connection's reads land (each read is parsed before the next one) */
  readonly readBuffer = Buffer.allocUnsafe(65536);

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

const HTTP1 = Buffer.from('HTTP/1.');
// lower-case names and tokens, compared ignoring ASCII case
const CONTENT_LENGTH = Buffer.from('content-length');
const SET_COOKIE = Buffer.from('set-cookie');
const CONNECTION = Buffer.from('connection');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding');
const CLOSE = Buffer.from('close');
const CHUNKED_TOKEN = Buffer.from('chunked');

const startsWith = (b: Buffer, prefix: Buffer): boolean => {
  if (b.length < prefix.length) return false;
  for (let k = 0; k < prefix.length; k++) if (b[k] !== prefix[k]) return false;
  return true;
};

/** `b[i, i + name.length)` equals the lower-case `name`, ignoring ASCII case. */
const sameName = (b: Buffer, i: number, name: Buffer): boolean => {
  for (let k = 0; k < name.length; k++) if (((b[i + k] as number) | 0x20) !== name[k]) return false;
  return true;
};

/** `b[from, to)` contains the lower-case `token`, ignoring ASCII case. */
const contains = (b: Buffer, from: number, to: number, token: Buffer): boolean => {
  for (let i = from; i + token.length <= to; i++) if (sameName(b, i, token)) return true;
  return false;
};
/** `remaining` before the response head is complete */
const IN_HEAD = -3;
const CHUNKED = -1;
const UNTIL_CLOSE = -2;
/** what `head` returns when the head is not whole yet, or was not HTTP */
const HEAD_INCOMPLETE = -1;
const HEAD_FAILED = -2;

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
  private lastByteMs = 0;
  private bytes = 0;
  private buf: Buffer | undefined;
  private status = 0;
  private statusMessage = '';
  /** body framing once the head is read: remaining Content-Length, CHUNKED or UNTIL_CLOSE; IN_HEAD before */
  private remaining = IN_HEAD;
  private close = false;
  private isHead = false;
  /** chunked: bytes of the current chunk (and its CRLF) still to come */
  private chunkLeft = 0;
  /** chunked: a size or trailer line cut by a read */
  private line = '';
  /** chunked: past the zero-size chunk, reading trailers up to the blank line */
  private trailers = false;
  /** the last reason phrase read, as bytes and as the string handed out */
  private reasonBytes: Buffer | undefined;
  private reasonText = '';

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
    this.lastByteMs = 0;
    this.bytes = 0;
    this.buf = undefined;
    this.status = 0;
    this.statusMessage = '';
    this.remaining = IN_HEAD;
    this.close = false;
    this.chunkLeft = 0;
    this.line = '';
    this.trailers = false;
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
    // reads land in the client's buffer and come to `data` directly, without a stream's Buffer and
    // 'data' event per read
    const readBuffer = c.readBuffer;
    const s = net.connect({
      host: c.host,
      port: c.port,
      noDelay: true,
      onread: {
        buffer: readBuffer,
        callback: (n: number) => {
          if (this.socket === s) this.data(readBuffer, n);
          return true;
        },
      },
    });
    this.socket = s;
    this.alive = true;
    s.once('connect', () => {
      if (this.socket === s && this.cb) this.connectMs = nowMs() - this.connectStart;
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
    // a response ends with the data event that completed it; a failure ends now
    const endMs = status > 0 ? this.lastByteMs : nowMs();
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

  /**
   * Reads `n` bytes that came in `b` (the client's read buffer, reused for the next read: whatever must
   * outlive this call is copied).
   */
  private data(b: Buffer, n: number): void {
    if (!this.cb) return; // nothing asked: bytes after a response (a misbehaving server) are ignored
    const now = nowMs();
    if (this.firstByteMs === 0) this.firstByteMs = now;
    this.lastByteMs = now;
    this.bytes += n;
    let from = 0;
    if (this.remaining === IN_HEAD) {
      if (this.buf) {
        b = Buffer.concat([this.buf, b.subarray(0, n)]);
        n = b.length;
      }
      const bodyAt = this.head(b, n);
      if (bodyAt === HEAD_INCOMPLETE) {
        this.buf = this.buf ? b : Buffer.from(b.subarray(0, n));
        return;
      }
      this.buf = undefined;
      if (bodyAt === HEAD_FAILED) return;
      if ((this.remaining as number) === 0) return this.complete();
      from = bodyAt;
    }
    if (this.remaining > 0) {
      // a Content-Length body: counted, not kept
      this.remaining -= n - from;
      if (this.remaining <= 0) this.complete();
    } else if (this.remaining === CHUNKED) {
      this.chunked(b, from, n);
    }
    // UNTIL_CLOSE: read until the server closes
  }

  /**
   * Parses the status line and headers at the start of `b[0, len)` byte by byte (no decoding of the whole
   * head). Returns where the body starts, HEAD_INCOMPLETE when the blank line has not come yet (nothing
   * is taken from a head until it is whole), or HEAD_FAILED (the request failed: not HTTP). Only
   * Content-Length, Transfer-Encoding, Connection and Set-Cookie are read.
   */
  private head(b: Buffer, len: number): number {
    // "HTTP/1.x ddd[ message]"
    let e = 0;
    while (e < len && b[e] !== 13) e++;
    if (e + 1 >= len) return HEAD_INCOMPLETE;
    const d0 = (b[9] as number) - 48;
    const d1 = (b[10] as number) - 48;
    const d2 = (b[11] as number) - 48;
    if (
      e < 12 ||
      !startsWith(b, HTTP1) ||
      b[8] !== 32 ||
      !(d0 >= 0 && d0 <= 9 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9) ||
      (e > 12 && b[12] !== 32)
    ) {
      this.fail('EPROTO', `not an HTTP response: ${b.toString('latin1', 0, Math.min(e, 80))}`);
      return HEAD_FAILED;
    }
    const lineEnd = e;
    let length = -1;
    let chunked = false;
    let close = false;
    let cookies: string[] | undefined;
    let i = e + 2;
    for (;;) {
      if (i + 1 >= len) return HEAD_INCOMPLETE;
      if (b[i] === 13) break; // the blank line
      // one header line [i, e), name [i, c)
      let c = -1;
      e = i;
      while (e < len && b[e] !== 13) {
        if (c < 0 && b[e] === 58) c = e;
        e++;
      }
      if (e + 1 >= len) return HEAD_INCOMPLETE;
      const n = c - i;
      if (n === 10 || n === 14 || n === 17) {
        let vs = c + 1;
        while (vs < e && (b[vs] === 32 || b[vs] === 9)) vs++;
        let ve = e;
        while (ve > vs && (b[ve - 1] === 32 || b[ve - 1] === 9)) ve--;
        if (n === 14 && sameName(b, i, CONTENT_LENGTH)) {
          length = ve > vs ? 0 : NaN;
          for (let k = vs; k < ve; k++) {
            const d = (b[k] as number) - 48;
            if (d < 0 || d > 9) {
              length = NaN;
              break;
            }
            length = length * 10 + d;
          }
        } else if (n === 10 && sameName(b, i, SET_COOKIE)) (cookies ??= []).push(b.toString('latin1', vs, ve));
        else if (n === 10 && sameName(b, i, CONNECTION)) close = contains(b, vs, ve, CLOSE);
        else if (n === 17 && sameName(b, i, TRANSFER_ENCODING)) chunked = contains(b, vs, ve, CHUNKED_TOKEN);
      }
      i = e + 2;
    }
    const status = d0 * 100 + d1 * 10 + d2;
    this.status = status;
    this.statusMessage = this.reason(b, lineEnd);
    this.close = close;
    if (cookies) this.jar?.store(cookies);
    if (this.isHead || status === 204 || status === 304 || (status >= 100 && status < 200)) this.remaining = 0;
    else if (chunked) this.remaining = CHUNKED;
    else if (length >= 0) this.remaining = length;
    else if (Number.isNaN(length)) {
      this.fail('EPROTO', 'bad Content-Length');
      return HEAD_FAILED;
    } else {
      this.remaining = UNTIL_CLOSE;
      this.close = true;
    }
    return i + 2;
  }

  /** The status line's reason phrase, `b[13, e)`; the string of the previous response when the bytes repeat. */
  private reason(b: Buffer, e: number): string {
    const prev = this.reasonBytes;
    const n = e - 13;
    if (n <= 0) return '';
    if (prev && prev.length === n) {
      let k = 0;
      while (k < n && prev[k] === b[13 + k]) k++;
      if (k === n) return this.reasonText;
    }
    this.reasonBytes = Buffer.from(b.subarray(13, e));
    this.reasonText = b.toString('latin1', 13, e);
    return this.reasonText;
  }

  /**
   * Walks a chunked body in `b[i, to)`: chunk-size lines (a size line cut by a read is kept as text),
   * chunk data skipped without being kept; the body ends at the blank line after the zero-size chunk
   * and its trailers.
   */
  private chunked(b: Buffer, i: number, to: number): void {
    while (i < to) {
      if (this.chunkLeft > 0) {
        const take = Math.min(this.chunkLeft, to - i);
        this.chunkLeft -= take;
        i += take;
        continue;
      }
      const nl = b.indexOf(10, i);
      if (nl < 0 || nl >= to) {
        this.line += b.toString('latin1', i, to);
        return;
      }
      let line = this.line + b.toString('latin1', i, nl);
      this.line = '';
      i = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (this.trailers) {
        if (line === '') return this.complete();
        continue; // a trailer field
      }
      const size = parseInt(line, 16); // chunk extensions after ';' end the number
      if (Number.isNaN(size)) return this.fail('EPROTO', 'bad chunk size');
      if (size === 0) this.trailers = true;
      else this.chunkLeft = size + 2; // the data and its CRLF
    }
  }
}
