import { parentPort } from 'node:worker_threads';
import { formatCsvRows } from './csv-format';

/** A CSV formatting thread: one message per chunk of rows, answered with the chunk's UTF-8 bytes. */
export interface CsvTask {
  id: number;
  ts: Float64Array;
  isAnomaly: Uint8Array;
  values: Float64Array | Float32Array;
  F: number;
  stepMs: number;
  float32: boolean;
}

parentPort?.on('message', (task: CsvTask) => {
  const text = formatCsvRows(task.ts, task.stepMs, task.isAnomaly, task.values, task.F, task.float32);
  const bytes = Buffer.from(text, 'utf8');
  const out = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  parentPort?.postMessage({ id: task.id, bytes: out }, [out.buffer]);
});
