import { closeSync, existsSync, openSync, renameSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { formatCsvRows } from './csv-format';
import type { CsvTask } from './csv-worker';

/** The reference experiment's leading columns (data_clean_3.py output), then one column per feature. */
export const REFERENCE_CSV_PREFIX = ['window_start', 'window_end', 'Normal/Attack'] as const;

type Values = { cols: Map<string, Float64Array> } | { rowMajor: Float32Array };
type Ranges = { from: number; to: number } | Array<{ from: number; to: number }>;

const CHUNK = 8192;

/** Row-major values of rows [a, b) (a copy the chunk's formatter may own). */
function chunkValues(names: string[], values: Values, a: number, b: number): Float64Array | Float32Array {
  const F = names.length;
  if ('rowMajor' in values) return values.rowMajor.slice(a * F, b * F);
  const out = new Float64Array((b - a) * F);
  names.forEach((n, f) => {
    const v = values.cols.get(n) as Float64Array;
    for (let i = a, k = f; i < b; i++, k += F) out[k] = v[i] as number;
  });
  return out;
}

function chunksOf(ranges: Ranges): Array<{ a: number; b: number }> {
  const out: Array<{ a: number; b: number }> = [];
  for (const r of Array.isArray(ranges) ? ranges : [ranges])
    for (let a = r.from; a < r.to; a += CHUNK) out.push({ a, b: Math.min(r.to, a + CHUNK) });
  return out;
}

/**
 * Writes the reference layout, one row per point: window_start = t − step, window_end = t (both
 * UTC epoch ms; a Prometheus value at t summarises the interval ending at t), Normal/Attack from
 * the point label, then the features: `cols` (raw float64, shortest round-trip text) or
 * `rowMajor` (scaled float32 [n, F]). Number formatting dominates the cost, so large files are
 * formatted on worker threads (chunks in order, a bounded number in flight).
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
  const float32 = 'rowMajor' in values;
  const chunks = chunksOf(rows);
  const total = chunks.reduce((n, c) => n + c.b - c.a, 0);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  const workerFile = join(__dirname, 'csv-worker.js');
  const parallel = threads > 1 && chunks.length > 4 && existsSync(workerFile);
  try {
    writeSync(fd, `${[...REFERENCE_CSV_PREFIX, ...names].join(',')}\n`);
    if (!parallel) {
      for (const { a, b } of chunks) {
        writeSync(
          fd,
          formatCsvRows(
            ts.subarray(a, b),
            stepMs,
            isAnomaly.subarray(a, b),
            chunkValues(names, values, a, b),
            F,
            float32,
          ),
        );
      }
    } else {
      await formatOnWorkers(
        workerFile,
        threads,
        chunks.length,
        (id) => {
          const { a, b } = chunks[id] as { a: number; b: number };
          return {
            id,
            ts: ts.slice(a, b),
            isAnomaly: isAnomaly.slice(a, b),
            values: chunkValues(names, values, a, b),
            F,
            stepMs,
            float32,
          };
        },
        (bytes) => void writeSync(fd, bytes),
      );
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return total;
}

/** Runs tasks 0..n−1 on `threads` workers, two in flight per worker, and hands results over in task order. */
async function formatOnWorkers(
  file: string,
  threads: number,
  n: number,
  task: (id: number) => CsvTask,
  write: (bytes: Uint8Array) => void,
): Promise<void> {
  const workers = Array.from({ length: threads }, () => new Worker(file));
  try {
    await new Promise<void>((resolve, reject) => {
      const done = new Map<number, Uint8Array>();
      let next = 0;
      let written = 0;
      const send = (w: Worker) => {
        if (next >= n) return;
        const t = task(next++);
        const transfer = [t.ts.buffer, t.isAnomaly.buffer, t.values.buffer] as ArrayBuffer[];
        w.postMessage(t, transfer);
      };
      for (const w of workers) {
        w.on('error', reject);
        w.on('message', (m: { id: number; bytes: Uint8Array }) => {
          done.set(m.id, m.bytes);
          try {
            while (done.has(written)) {
              write(done.get(written) as Uint8Array);
              done.delete(written++);
            }
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
            return;
          }
          // Each worker has at most two chunks out, so at most 2·threads results wait for their turn.
          if (written === n) resolve();
          else send(w);
        });
        send(w);
        send(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
