import { writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { formatCsvRows, rowBytesBound, type CsvValues } from './csv-format';

/**
 * A CSV thread: formats chunks of rows and writes each at its place in the file. Chunks are claimed
 * in order from a shared counter; a chunk's file offset is known once the previous chunk has claimed
 * its length (`turn`), so formatting runs in parallel and only the offset hand-over is sequential.
 * All arrays are views on SharedArrayBuffers: nothing is copied to or from the thread.
 */
export interface CsvJob {
  fd: number;
  ts: Float64Array;
  isAnomaly: Uint8Array;
  values: CsvValues;
  stepMs: number;
  /** Chunk c covers rows [chunks[2c], chunks[2c + 1]). */
  chunks: Int32Array;
  /** [next chunk to claim, chunk whose turn it is to take an offset, abort flag] */
  control: Int32Array;
  /** [file offset for the chunk whose turn it is] */
  offset: Float64Array;
}

export const NEXT = 0;
export const TURN = 1;
export const ABORT = 2;

export function runCsvJob(job: CsvJob): void {
  const { control, chunks } = job;
  const n = chunks.length / 2;
  const F = 'cols' in job.values ? job.values.cols.length : job.values.F;
  let maxRows = 0;
  for (let c = 0; c < n; c++) maxRows = Math.max(maxRows, (chunks[2 * c + 1] as number) - (chunks[2 * c] as number));
  const out = Buffer.allocUnsafe(Math.max(1, maxRows * rowBytesBound(F)));
  for (;;) {
    const c = Atomics.add(control, NEXT, 1);
    if (c >= n || Atomics.load(control, ABORT) !== 0) return;
    const len = formatCsvRows(
      out,
      job.ts,
      job.stepMs,
      job.isAnomaly,
      job.values,
      chunks[2 * c] as number,
      chunks[2 * c + 1] as number,
    );
    for (;;) {
      const turn = Atomics.load(control, TURN);
      if (turn === c) break;
      if (Atomics.load(control, ABORT) !== 0) return;
      Atomics.wait(control, TURN, turn, 1000);
    }
    const at = job.offset[0] as number;
    job.offset[0] = at + len;
    Atomics.store(control, TURN, c + 1);
    Atomics.notify(control, TURN);
    let done = 0;
    while (done < len) done += writeSync(job.fd, out, done, len - done, at + done);
  }
}

parentPort?.on('message', (job: CsvJob) => {
  try {
    runCsvJob(job);
    parentPort?.postMessage({ ok: true });
  } catch (err) {
    Atomics.store(job.control, ABORT, 1);
    Atomics.notify(job.control, TURN);
    parentPort?.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
