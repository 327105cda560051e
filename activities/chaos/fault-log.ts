import {
  appendFileSync,
  closeSync,
  fstatSync,
  fsync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  write,
  writeSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { Field, Float64, Schema, Table, Utf8, tableToIPC, vectorFromArray } from 'apache-arrow';
import type { FaultLogEvent, FaultRecord } from '../../schemas/fault-log';
import { faultLogRegistryPath } from './paths';

/**
 * The append-only ground-truth log. Each event is one JSON line, written with a single write() on an O_APPEND
 * descriptor and fsync'd before the call returns, so a crash never loses an event that was acted on.
 */
export class FaultLog {
  private fd: number;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  static open(path: string): FaultLog {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'a');
    registerFaultLog(path);
    return new FaultLog(path, fd);
  }

  append(event: FaultLogEvent): void {
    writeSync(this.fd, `${JSON.stringify(event)}\n`);
    fsyncSync(this.fd);
  }

  private pending = '';
  private failed: Error | undefined;
  private job: Promise<void> | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  /**
   * Appends without blocking the event loop: the line joins the next group write (one write() and one fsync on
   * the libuv pool for every line queued meanwhile). The promise resolves once the line is durable; lines keep
   * their order. Do not mix with `append` on the same log while writes are queued.
   */
  appendAsync(event: FaultLogEvent): Promise<void> {
    this.pending += `${JSON.stringify(event)}\n`;
    if (!this.job) {
      const job = this.chain.then(async () => {
        this.job = undefined;
        const data = this.pending;
        this.pending = '';
        await new Promise<void>((resolve, reject) =>
          write(this.fd, data, null, 'utf8', (err) => (err ? reject(err) : resolve())),
        );
        await new Promise<void>((resolve, reject) => fsync(this.fd, (err) => (err ? reject(err) : resolve())));
      });
      this.job = job;
      this.chain = job.catch((err: unknown) => {
        this.failed ??= err instanceof Error ? err : new Error(String(err));
      });
    }
    return this.job;
  }

  /** Resolves when every line queued so far is durable; rejects if any queued write failed. */
  async flush(): Promise<void> {
    await this.chain;
    if (this.failed) throw this.failed;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * Reads a log incrementally: each `readNew()` returns the events appended since the last call (only whole lines;
 * a line still being written is returned by a later call), so a long campaign's log is parsed once, not per batch.
 */
export class FaultLogTail {
  private offset = 0;
  private rest: Buffer = Buffer.alloc(0);

  constructor(readonly path: string) {}

  readNew(): FaultLogEvent[] {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    let chunk: Buffer;
    try {
      const size = fstatSync(fd).size;
      if (size <= this.offset) return [];
      chunk = Buffer.alloc(size - this.offset);
      let got = 0;
      while (got < chunk.length) {
        const n = readSync(fd, chunk, got, chunk.length - got, this.offset + got);
        if (n === 0) break;
        got += n;
      }
      chunk = chunk.subarray(0, got);
      this.offset += got;
    } finally {
      closeSync(fd);
    }
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const end = buf.lastIndexOf(0x0a);
    if (end < 0) {
      this.rest = Buffer.from(buf);
      return [];
    }
    this.rest = Buffer.from(buf.subarray(end + 1));
    const out: FaultLogEvent[] = [];
    for (const line of buf.subarray(0, end).toString('utf8').split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as FaultLogEvent);
      } catch {
        // a torn line (crash mid-write) followed by later lines: skipped, as in readFaultLogEvents
      }
    }
    return out;
  }
}

/** Remembers every log path so `faultline chaos purge` finds campaigns with custom data dirs. */
function registerFaultLog(path: string): void {
  const reg = faultLogRegistryPath();
  try {
    const known = readFileSync(reg, 'utf8').split('\n');
    if (known.includes(path)) return;
  } catch {
    mkdirSync(dirname(reg), { recursive: true });
  }
  appendFileSync(reg, `${path}\n`);
}

export function registeredFaultLogs(): string[] {
  try {
    return readFileSync(faultLogRegistryPath(), 'utf8')
      .split('\n')
      .filter((l) => l.length > 0);
  } catch {
    return [];
  }
}

/** Every event in the log; a torn last line (crash mid-write) is skipped. */
export function readFaultLogEvents(path: string): FaultLogEvent[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: FaultLogEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as FaultLogEvent);
    } catch {
      // only the final line can be torn; everything before it was fsync'd whole
    }
  }
  return out;
}

export interface FoldedRecord extends FaultRecord {
  detail?: Record<string, unknown>;
}

/** Folds events into one record per fault id, in order of first appearance. */
export function foldFaultLog(
  events: FaultLogEvent[],
  /** Fold into these records (incremental reading); a new map by default. */
  byId = new Map<string, FoldedRecord>(),
): Map<string, FoldedRecord> {
  for (const e of events) {
    switch (e.ev) {
      case 'planned': {
        const prev = byId.get(e.id);
        byId.set(e.id, {
          ...(prev ?? {}),
          id: e.id,
          campaignId: e.campaignId,
          type: e.type,
          target: e.target,
          params: e.params,
          plannedMs: e.plannedMs,
          plannedEndMs: e.plannedEndMs,
          status: prev?.status ?? 'planned',
          detail: e.detail,
        });
        break;
      }
      case 'applied': {
        const r = byId.get(e.id);
        if (r) {
          r.appliedMs ??= e.ts;
          if (r.status === 'planned') r.status = 'applied';
          if (e.note) (r.notes ??= []).push(e.note);
        }
        break;
      }
      case 'removed': {
        const r = byId.get(e.id);
        if (r && r.removedMs === undefined) {
          r.removedMs = e.ts;
          if (r.status === 'applied' || r.status === 'planned') r.status = 'removed';
        }
        // a later `removed` line only adds its note (e.g. the cleanup had to remove the object's finalizers)
        if (r && e.note) (r.notes ??= []).push(e.note);
        break;
      }
      case 'recovered': {
        const r = byId.get(e.id);
        if (r) r.recoveredMs ??= e.ts;
        break;
      }
      case 'rejected':
      case 'failed': {
        const prev = byId.get(e.id);
        byId.set(e.id, {
          ...(prev ?? { params: e.params ?? {}, target: e.target ?? { namespace: '', app: '', pods: [] } }),
          id: e.id,
          campaignId: e.campaignId,
          type: e.type,
          plannedMs: e.plannedMs,
          status: e.ev,
          error: e.error,
        });
        break;
      }
      case 'campaign':
      case 'aborted':
      case 'halted':
      case 'stopped':
        break;
      default: {
        const never: never = e;
        void never;
      }
    }
  }
  return byId;
}

/** The ground truth of a campaign: one FaultRecord per fault (the dataset developer's reader). */
export function readFaultLog(path: string): FaultRecord[] {
  return [...foldFaultLog(readFaultLogEvents(path)).values()].map(({ detail: _d, ...r }) => r);
}

/** Faults whose effect may still be in place: applied (or planned and maybe applied) and never removed. */
export function activeFaults(records: Iterable<FoldedRecord>): FoldedRecord[] {
  return [...records].filter((r) => (r.status === 'applied' || r.status === 'planned') && r.removedMs === undefined);
}

/** Writes the records as JSONL (one folded record per line). */
export function exportFaultLogJsonl(records: FaultRecord[], outPath: string): void {
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''));
}

export const FAULT_LOG_ARROW_SCHEMA = new Schema([
  new Field('id', new Utf8(), false),
  new Field('campaign_id', new Utf8(), false),
  new Field('type', new Utf8(), false),
  new Field('namespace', new Utf8(), false),
  new Field('app', new Utf8(), false),
  new Field('pods', new Utf8(), false),
  new Field('status', new Utf8(), false),
  new Field('planned_ms', new Float64(), false),
  new Field('planned_end_ms', new Float64(), true),
  new Field('applied_ms', new Float64(), true),
  new Field('removed_ms', new Float64(), true),
  new Field('recovered_ms', new Float64(), true),
  new Field('params', new Utf8(), false),
  new Field('error', new Utf8(), true),
]);

/** Arrow IPC file of the records (epoch ms as float64; null when absent). */
export function exportFaultLogArrow(records: FaultRecord[], outPath: string): void {
  const num = (f: (r: FaultRecord) => number | undefined) =>
    vectorFromArray(
      records.map((r) => f(r) ?? null),
      new Float64(),
    );
  const str = (f: (r: FaultRecord) => string | undefined) =>
    vectorFromArray(
      records.map((r) => f(r) ?? null),
      new Utf8(),
    );
  const table = new Table({
    id: str((r) => r.id),
    campaign_id: str((r) => r.campaignId),
    type: str((r) => r.type),
    namespace: str((r) => r.target.namespace),
    app: str((r) => r.target.app),
    pods: str((r) => r.target.pods.join(',')),
    status: str((r) => r.status),
    planned_ms: num((r) => r.plannedMs),
    planned_end_ms: num((r) => r.plannedEndMs),
    applied_ms: num((r) => r.appliedMs),
    removed_ms: num((r) => r.removedMs),
    recovered_ms: num((r) => r.recoveredMs),
    params: str((r) => JSON.stringify(r.params)),
    error: str((r) => r.error),
  });
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, tableToIPC(table, 'file'));
}

/** Grafana annotations (time, timeEnd, tags, text) for every applied fault; import into a dashboard. */
export function grafanaAnnotations(records: FaultRecord[]): {
  time: number;
  timeEnd: number;
  tags: string[];
  text: string;
}[] {
  return records
    .filter((r) => r.appliedMs !== undefined)
    .map((r) => ({
      time: r.appliedMs as number,
      timeEnd: r.recoveredMs ?? r.removedMs ?? r.plannedEndMs ?? (r.appliedMs as number),
      tags: ['faultline', r.type, r.target.app, r.campaignId],
      text: `${r.type} ${r.target.app} (${r.target.pods.join(', ')}) ${r.id}`,
    }));
}
