import * as fs from 'node:fs';
import * as hdr from 'hdr-histogram-js';

/** The JTL CSV columns, in JMeter's default order for `jmeter.save.saveservice.*` = true. */
export const JTL_COLUMNS = [
  'timeStamp',
  'elapsed',
  'label',
  'responseCode',
  'responseMessage',
  'threadName',
  'dataType',
  'success',
  'failureMessage',
  'bytes',
  'sentBytes',
  'grpThreads',
  'allThreads',
  'URL',
  'Latency',
  'IdleTime',
  'Connect',
] as const;
export const JTL_HEADER = JTL_COLUMNS.join(',');

/**
 * One sample, i.e. one JTL row. Times are integer milliseconds as in JMeter.
 * `timeStamp` is the *intended* send time: in the closed model that is the actual send time; in the
 * open model it is the scheduled arrival, so `elapsed` (end − intended) includes the time the request
 * waited to be sent. `idle` (JTL IdleTime) is that wait, so the service time is `elapsed − idle`.
 * `latency` is the time to the first response byte, counted from the same origin as `elapsed`.
 */
export interface Sample {
  timeStamp: number;
  elapsed: number;
  label: string;
  responseCode: string;
  responseMessage: string;
  threadName: string;
  success: boolean;
  failureMessage: string;
  bytes: number;
  sentBytes: number;
  grpThreads: number;
  allThreads: number;
  url: string;
  latency: number;
  idle: number;
  connect: number;
  /** summary only: http_500, timeout, connection_refused, … (not a JTL column; derived on re-read) */
  errorKind?: string;
  /** live runs only: unrounded elapsed and service time (ms) for the histograms */
  exactElapsed?: number;
  exactService?: number;
}

const needsQuote = /[",\n\r]/;
const csv = (s: string): string => (needsQuote.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export function jtlLine(s: Sample): string {
  return (
    `${s.timeStamp},${s.elapsed},${csv(s.label)},${csv(s.responseCode)},${csv(s.responseMessage)},` +
    `${csv(s.threadName)},text,${s.success},${csv(s.failureMessage)},${s.bytes},${s.sentBytes},` +
    `${s.grpThreads},${s.allThreads},${csv(s.url)},${s.latency},${s.idle},${s.connect}\n`
  );
}

/** Splits one CSV line (RFC 4180 quoting); returns undefined for a line cut short. */
export function parseCsvLine(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
      if (i < line.length && line[i] !== ',') return undefined;
      i++;
    } else {
      const c = line.indexOf(',', i);
      const end = c < 0 ? line.length : c;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

/** Error kind of a JTL row, from its response code (used when rebuilding a summary from a JTL). */
export function errorKindOfRow(responseCode: string, success: boolean): string | undefined {
  if (success) return undefined;
  const code = Number(responseCode);
  if (Number.isInteger(code) && code > 0) return `http_${code}`;
  const m = /^Non HTTP response code: (\S+)/.exec(responseCode);
  switch (m?.[1]) {
    case 'ECONNREFUSED':
      return 'connection_refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection_reset';
    case 'ETIMEDOUT':
      return 'timeout';
    case undefined:
      return 'assertion';
    default:
      return `socket_${(m?.[1] ?? 'unknown').toLowerCase()}`;
  }
}

export function sampleFromRow(f: string[]): Sample | undefined {
  if (f.length !== JTL_COLUMNS.length) return undefined;
  const n = (i: number): number => Number(f[i]);
  const s: Sample = {
    timeStamp: n(0),
    elapsed: n(1),
    label: f[2] as string,
    responseCode: f[3] as string,
    responseMessage: f[4] as string,
    threadName: f[5] as string,
    success: f[7] === 'true',
    failureMessage: f[8] as string,
    bytes: n(9),
    sentBytes: n(10),
    grpThreads: n(11),
    allThreads: n(12),
    url: f[13] as string,
    latency: n(14),
    idle: n(15),
    connect: n(16),
  };
  if (!Number.isFinite(s.timeStamp) || !Number.isFinite(s.elapsed)) return undefined;
  s.errorKind = errorKindOfRow(s.responseCode, s.success);
  return s;
}

/** Latencies go into HDR histograms in microseconds (3 significant digits) so sub-ms local calls keep detail. */
const newHist = (): hdr.Histogram =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

export class LabelStats {
  count = 0;
  errors = 0;
  bytes = 0;
  sentBytes = 0;
  firstMs = Infinity;
  lastEndMs = 0;
  /** elapsed from the intended send time (what a user waited) */
  readonly hist = newHist();
  /** elapsed from the actual send time (what the server took) */
  readonly serviceHist = newHist();
  sumElapsed = 0;
  /**
   * sums of the values recorded in `hist` and `serviceHist` (µs), for their means: the histogram's own
   * mean walks every bucket, which at a campaign's rate cost more than recording the whole phase
   */
  sumUs = 0;
  sumServiceUs = 0;

  add(s: Sample): void {
    this.count++;
    if (!s.success) this.errors++;
    this.bytes += s.bytes;
    this.sentBytes += s.sentBytes;
    this.sumElapsed += s.elapsed;
    if (s.timeStamp < this.firstMs) this.firstMs = s.timeStamp;
    const end = s.timeStamp + s.elapsed;
    if (end > this.lastEndMs) this.lastEndMs = end;
    const e = s.exactElapsed ?? s.elapsed;
    const svc = s.exactService ?? s.elapsed - s.idle;
    const us = Math.max(1, Math.round(e * 1000));
    const svcUs = Math.max(1, Math.round(svc * 1000));
    this.hist.recordValue(us);
    this.serviceHist.recordValue(svcUs);
    this.sumUs += us;
    this.sumServiceUs += svcUs;
  }
}

export interface SecondStats {
  requests: number;
  errors: number;
  sumElapsed: number;
  maxElapsed: number;
}

/**
 * Keeps the per-label and overall HDR histograms, errors by kind and a per-second series, and streams
 * every sample to the JTL file. Writes are batched (64 KiB or 250 ms) so recording costs a string
 * concatenation per request, not a syscall.
 */
export class Recorder {
  readonly labels = new Map<string, LabelStats>();
  readonly total = new LabelStats();
  readonly errorsByKind = new Map<string, number>();
  readonly perSecond = new Map<number, SecondStats>();
  private buf = '';
  private readonly fd: number;
  private readonly timer: NodeJS.Timeout;
  private pending: Promise<void> = Promise.resolve();
  private writeError: Error | undefined;

  /** Opens (append) the JTL; writes the header when the file is new or empty. */
  constructor(readonly jtlPath: string) {
    const exists = fs.existsSync(jtlPath) && fs.statSync(jtlPath).size > 0;
    this.fd = fs.openSync(jtlPath, 'a');
    if (!exists) fs.writeSync(this.fd, JTL_HEADER + '\n');
    this.timer = setInterval(() => this.flush(), 250);
    this.timer.unref();
  }

  /** Counts a sample without writing it (used when rebuilding from an existing JTL). */
  account(s: Sample): void {
    let st = this.labels.get(s.label);
    if (!st) this.labels.set(s.label, (st = new LabelStats()));
    st.add(s);
    this.total.add(s);
    if (!s.success) {
      const kind = s.errorKind ?? 'unknown';
      this.errorsByKind.set(kind, (this.errorsByKind.get(kind) ?? 0) + 1);
    }
    const sec = Math.floor(s.timeStamp / 1000);
    let ps = this.perSecond.get(sec);
    if (!ps) this.perSecond.set(sec, (ps = { requests: 0, errors: 0, sumElapsed: 0, maxElapsed: 0 }));
    ps.requests++;
    if (!s.success) ps.errors++;
    ps.sumElapsed += s.elapsed;
    if (s.elapsed > ps.maxElapsed) ps.maxElapsed = s.elapsed;
  }

  record(s: Sample): void {
    this.account(s);
    this.buf += jtlLine(s);
    if (this.buf.length > 65536) this.flush();
  }

  /** Hands the buffered rows to the file; rows are written in order. */
  flush(): void {
    if (!this.buf) return;
    const chunk = this.buf;
    this.buf = '';
    this.pending = this.pending.then(
      () =>
        new Promise<void>((resolve) => {
          fs.write(this.fd, chunk, (err) => {
            if (err) this.writeError ??= err;
            resolve();
          });
        }),
    );
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.flush();
    await this.pending;
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    if (this.writeError) throw this.writeError;
  }

  /**
   * Re-reads an existing JTL (after a worker crash) into fresh statistics, and cuts a last row that
   * the crash left half-written so appended rows start on a clean line. Returns the recorder, open
   * for appending.
   */
  static resume(jtlPath: string): Recorder {
    if (fs.existsSync(jtlPath)) {
      const text = fs.readFileSync(jtlPath, 'utf8');
      const lastNl = text.lastIndexOf('\n');
      if (lastNl + 1 < text.length) fs.truncateSync(jtlPath, Buffer.byteLength(text.slice(0, lastNl + 1)));
      const rec = new Recorder(jtlPath);
      const lines = text.slice(0, lastNl + 1).split('\n');
      // a JTL from JMeter itself may order or omit columns differently: map them by header name
      const header = parseCsvLine(lines[0] ?? '') ?? [];
      const index = JTL_COLUMNS.map((c) => header.indexOf(c));
      const same = (lines[0] ?? '') === JTL_HEADER;
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i];
        if (!line) continue;
        const raw = parseCsvLine(line);
        if (!raw) continue;
        const f = same ? raw : index.map((j) => (j >= 0 ? (raw[j] ?? '') : '0'));
        const s = sampleFromRow(f);
        if (s) rec.account(s);
      }
      return rec;
    }
    return new Recorder(jtlPath);
  }
}
