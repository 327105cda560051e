import { closeSync, existsSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { formatCsvRows, rowBytesBound, type CsvValues } from './csv-format';
import { ABORT, runCsvJob, type CsvJob } from './csv-worker';

/** The reference experiment's leading columns (data_clean_3.py output), then one column per feature. */
export const REFERENCE_CSV_PREFIX = ['window_start', 'window_end', 'Normal/Attack'] as const;

type Values = { cols: Map<string, Float64Array> } | { rowMajor: Float32Array };
type Ranges = { from: number; to: number } | Array<{ from: number; to: number }>;

/** Rows per chunk: a few MB of text, one positional write each. */
const CHUNK = 8192;

/** CSV threads for a caller that keeps its own thread busy meanwhile (buildDataset writes .npy and Arrow). */
export function csvThreadsBeside(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/** The same array on a SharedArrayBuffer (as is when it already is one), so threads read it without a copy. */
export function shared<T extends Float64Array | Float32Array | Uint8Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const Ctor = a.constructor as new (buf: SharedArrayBuffer) => T;
  const out = new Ctor(new SharedArrayBuffer(a.byteLength));
  out.set(a);
  return out;
}

function chunksOf(ranges: Ranges): Int32Array {
  const out: number[] = [];
  for (const r of Array.isArray(ranges) ? ranges : [ranges])
    for (let a = r.from; a < r.to; a += CHUNK) out.push(a, Math.min(r.to, a + CHUNK));
  return Int32Array.from(out);
}

/**
 * Writes the reference layout, one row per point: window_start = t − step, window_end = t (both
 * UTC epoch ms; a Prometheus value at t summarises the interval ending at t), Normal/Attack from
 * the point label, then the features: `cols` (raw float64, shortest round-trip text) or
 * `rowMajor` (scaled float32 [n, F], 8 significant digits). Numbers are formatted straight into
 * bytes. `threads` worker threads (0: this thread) format chunks in parallel and write each at its
 * offset, reading the columns from shared memory (copied there once unless they already are).
 */
export async function writeReferenceCsv(
  path: string,
  ts: Float64Array,
  stepMs: number,
  isAnomaly: Uint8Array,
  names: string[],
  values: Values,
  rows: Ranges = { from: 0, to: ts.length },
  threads = Math.min(4, availableParallelism()),
): Promise<number> {
  const F = names.length;
  const chunks = chunksOf(rows);
  const nChunks = chunks.length / 2;
  let total = 0;
  for (let c = 0; c < nChunks; c++) total += (chunks[2 * c + 1] as number) - (chunks[2 * c] as number);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  const workerFile = join(__dirname, 'csv-worker.js');
  const parallel = threads >= 1 && nChunks > 1 && existsSync(workerFile);
  try {
    const header = Buffer.from(`${[...REFERENCE_CSV_PREFIX, ...names].join(',')}\n`, 'utf8');
    writeSync(fd, header);
    const csvValues = (share: boolean): CsvValues =>
      'rowMajor' in values
        ? { rowMajor: share ? shared(values.rowMajor) : values.rowMajor, F }
        : { cols: names.map((n) => (share ? shared : (x: Float64Array) => x)(values.cols.get(n) as Float64Array)) };
    const job: CsvJob = {
      fd,
      ts: parallel ? shared(ts) : ts,
      isAnomaly: parallel ? shared(isAnomaly) : isAnomaly,
      values: csvValues(parallel),
      stepMs,
      chunks,
      control: new Int32Array(new SharedArrayBuffer(12)),
      offset: new Float64Array(new SharedArrayBuffer(8)),
    };
    job.offset[0] = header.length;
    if (parallel) await runOnWorkers(workerFile, Math.min(threads, nChunks), job);
    else runCsvJob(job);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  return total;
}

/** Runs one job on `threads` workers (they share its counters) and waits for all of them. */
async function runOnWorkers(file: string, threads: number, job: CsvJob): Promise<void> {
  const workers = Array.from({ length: threads }, () => new Worker(file));
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const fail = (err: Error) => {
              Atomics.store(job.control, ABORT, 1);
              Atomics.notify(job.control, 1);
              reject(err);
            };
            w.once('error', fail);
            w.once('exit', (code) => fail(new Error(`CSV thread exited (${code}) before finishing`)));
            w.once('message', (m: { ok: boolean; error?: string }) =>
              m.ok ? resolve() : fail(new Error(`CSV thread failed: ${m.error}`)),
            );
            w.postMessage(job);
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

export { formatCsvRows, rowBytesBound };
