/**
 * Formats reference-layout CSV rows (shared by the in-process writer and the worker threads, so
 * both produce byte-identical text). `values` is row-major [rows, F].
 */
export function formatCsvRows(
  ts: Float64Array,
  stepMs: number,
  isAnomaly: Uint8Array,
  values: Float64Array | Float32Array,
  F: number,
  float32: boolean,
): string {
  let s = '';
  const n = ts.length;
  for (let i = 0, k = 0; i < n; i++) {
    const t = ts[i] as number;
    s += `${t - stepMs},${t},${isAnomaly[i] ? 'Attack' : 'Normal'}`;
    if (float32) {
      // float32 → 8 significant digits: enough to round-trip a float32, shorter than its float64 expansion
      for (let f = 0; f < F; f++, k++) s += `,${+(values[k] as number).toPrecision(8)}`;
    } else {
      for (let f = 0; f < F; f++, k++) s += `,${values[k] as number}`;
    }
    s += '\n';
  }
  return s;
}
