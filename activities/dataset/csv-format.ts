import { MAX_NUMBER_BYTES, writeFloat32Rounded, writeNumber } from './float-format';

/**
 * The reference-layout CSV rows, formatted straight into bytes (shared by the in-process writer and
 * the worker threads, so both produce identical bytes). Values are either the raw float64 columns
 * (written as `String(v)`, the shortest text that reads back to the same double) or a row-major
 * float32 matrix [n, F] (written as `String(+v.toPrecision(8))`: 8 significant digits, enough to
 * round-trip a float32 and shorter than its float64 expansion).
 */
export type CsvValues = { cols: Float64Array[] } | { rowMajor: Float32Array; F: number };

/** An upper bound on the bytes of one row with F features. */
export function rowBytesBound(F: number): number {
  return 2 * (MAX_NUMBER_BYTES + 1) + 'Normal'.length + 1 + F * (MAX_NUMBER_BYTES + 1);
}

const ATTACK = Buffer.from(',Attack', 'latin1');
const NORMAL = Buffer.from(',Normal', 'latin1');

/** Formats rows [a, b) into `out` from position 0 (it must hold (b − a)·rowBytesBound(F) bytes); returns the length. */
export function formatCsvRows(
  out: Uint8Array,
  ts: Float64Array,
  stepMs: number,
  isAnomaly: Uint8Array,
  values: CsvValues,
  a: number,
  b: number,
): number {
  let pos = 0;
  const cols = 'cols' in values ? values.cols : undefined;
  const rowMajor = 'rowMajor' in values ? values.rowMajor : undefined;
  const F = cols ? cols.length : (values as { F: number }).F;
  for (let i = a; i < b; i++) {
    const t = ts[i] as number;
    pos = writeNumber(out, pos, t - stepMs);
    out[pos++] = 44;
    pos = writeNumber(out, pos, t);
    const label = isAnomaly[i] ? ATTACK : NORMAL;
    for (let j = 0; j < 7; j++) out[pos++] = label[j] as number;
    if (cols) {
      for (let f = 0; f < F; f++) {
        out[pos++] = 44;
        pos = writeNumber(out, pos, (cols[f] as Float64Array)[i] as number);
      }
    } else {
      const m = rowMajor as Float32Array;
      for (let f = 0, k = i * F; f < F; f++, k++) {
        out[pos++] = 44;
        pos = writeFloat32Rounded(out, pos, m[k] as number);
      }
    }
    out[pos++] = 10;
  }
  return pos;
}
