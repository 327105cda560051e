import { closeSync, openSync, renameSync, writeSync } from 'node:fs';

/** The reference experiment's leading columns (data_clean_3.py output), then one column per feature. */
export const REFERENCE_CSV_PREFIX = ['window_start', 'window_end', 'Normal/Attack'] as const;

/**
 * Writes the reference layout, one row per point: window_start = t − step, window_end = t (both
 * UTC epoch ms; a Prometheus value at t summarises the interval ending at t), Normal/Attack from
 * the point label, then the features. `rowMajor` (scaled float32 [n, F]) or `cols` (raw float64).
 */
export function writeReferenceCsv(
  path: string,
  ts: Float64Array,
  stepMs: number,
  isAnomaly: Uint8Array,
  names: string[],
  values: { cols: Map<string, Float64Array> } | { rowMajor: Float32Array },
  rows: { from: number; to: number } | Array<{ from: number; to: number }> = { from: 0, to: ts.length },
): number {
  const ranges = Array.isArray(rows) ? rows : [rows];
  let written = 0;
  const F = names.length;
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, `${[...REFERENCE_CSV_PREFIX, ...names].join(',')}\n`);
    const raw = 'cols' in values ? names.map((n) => values.cols.get(n) as Float64Array) : undefined;
    const rm = 'rowMajor' in values ? values.rowMajor : undefined;
    const CHUNK = 4096;
    for (const r of ranges) for (let start = r.from; start < r.to; start += CHUNK) {
      const end = Math.min(r.to, start + CHUNK);
      written += end - start;
      let s = '';
      for (let i = start; i < end; i++) {
        const t = ts[i] as number;
        s += `${t - stepMs},${t},${isAnomaly[i] ? 'Attack' : 'Normal'}`;
        if (raw) {
          for (let f = 0; f < F; f++) s += `,${(raw[f] as Float64Array)[i] as number}`;
        } else if (rm) {
          // float32 → 8 significant digits: enough to round-trip a float32, shorter than its float64 expansion
          for (let f = 0, k = i * F; f < F; f++, k++) s += `,${+(rm[k] as number).toPrecision(8)}`;
        }
        s += '\n';
      }
      writeSync(fd, s);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return written;
}
