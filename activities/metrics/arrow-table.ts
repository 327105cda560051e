import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import type { Data } from 'apache-arrow';
import {
  Dictionary,
  Field,
  Float32,
  Float64,
  Int32,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  Table,
  Uint8,
  Utf8,
  makeData,
  tableFromIPC,
  vectorFromArray,
  type DataType,
} from 'apache-arrow';

/** A column to write: numeric arrays are written as they are (NaN → null for floats), strings as a dictionary. */
export type ColumnSpec =
  | { name: string; kind: 'f64'; values: Float64Array; nullable?: boolean }
  | { name: string; kind: 'f32'; values: Float32Array }
  | { name: string; kind: 'u8'; values: Uint8Array }
  /** code −1 = null */
  | { name: string; kind: 'dict'; codes: Int32Array; dictionary: string[] };

function validityOf(isNull: (i: number) => boolean, n: number): { bitmap: Uint8Array; nulls: number } {
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    if (isNull(i)) nulls++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  return { bitmap, nulls };
}

function columnData(c: ColumnSpec): { field: Field; data: Data } {
  switch (c.kind) {
    case 'f64': {
      const v = c.values;
      const { bitmap, nulls } =
        c.nullable === false
          ? { bitmap: new Uint8Array(0), nulls: 0 }
          : validityOf((i) => Number.isNaN(v[i]), v.length);
      const type = new Float64();
      const data = makeData({
        type,
        length: v.length,
        nullCount: nulls,
        nullBitmap: nulls ? bitmap : undefined,
        data: v,
      });
      return { field: new Field(c.name, type, nulls > 0), data };
    }
    case 'f32': {
      const type = new Float32();
      return {
        field: new Field(c.name, type, false),
        data: makeData({ type, length: c.values.length, data: c.values }),
      };
    }
    case 'u8': {
      const type = new Uint8();
      return {
        field: new Field(c.name, type, false),
        data: makeData({ type, length: c.values.length, data: c.values }),
      };
    }
    case 'dict': {
      const codes = c.codes;
      const { bitmap, nulls } = validityOf((i) => (codes[i] ?? -1) < 0, codes.length);
      const safe = nulls ? codes.map((x) => (x < 0 ? 0 : x)) : codes;
      const type = new Dictionary(new Utf8(), new Int32());
      const dictionary = vectorFromArray(c.dictionary.length ? c.dictionary : [''], new Utf8());
      const data = makeData({
        type,
        length: codes.length,
        nullCount: nulls,
        nullBitmap: nulls ? bitmap : undefined,
        data: safe,
        dictionary,
      });
      return { field: new Field(c.name, type, nulls > 0), data };
    }
  }
}

/** Writes one Arrow IPC file (one record batch), atomically (tmp + rename), with string metadata. */
export async function writeArrowTable(
  path: string,
  columns: ColumnSpec[],
  metadata: Record<string, string> = {},
): Promise<void> {
  const length = columns.length
    ? columns[0]!.kind === 'dict'
      ? columns[0]!.codes.length
      : columns[0]!.values.length
    : 0;
  const built = columns.map(columnData);
  for (const b of built) {
    if (b.data.length !== length)
      throw new Error(`column ${b.field.name} has ${b.data.length} rows, expected ${length}`);
  }
  const schema = new Schema(
    built.map((b) => b.field),
    new Map(Object.entries(metadata)),
  );
  const struct = makeData({
    type: new Struct(schema.fields),
    length,
    nullCount: 0,
    children: built.map((b) => b.data),
  });
  const table = new Table([new RecordBatch(schema, struct)]);
  const tmp = `${path}.tmp-${process.pid}`;
  // The writer queues views of the columns' own buffers (plus small metadata pieces); they go to
  // the file as they are, instead of being joined into one copy of the whole table first.
  const writer = RecordBatchFileWriter.writeAll(table);
  const fd = openSync(tmp, 'w');
  try {
    const staging = Buffer.allocUnsafe(1 << 20);
    let used = 0;
    const flush = () => {
      for (let done = 0; done < used;) done += writeSync(fd, staging, done, used - done);
      used = 0;
    };
    for await (const chunk of writer as AsyncIterable<Uint8Array>) {
      if (chunk.byteLength > staging.length >> 2) {
        flush();
        for (let done = 0; done < chunk.byteLength;) done += writeSync(fd, chunk, done, chunk.byteLength - done);
        continue;
      }
      if (used + chunk.byteLength > staging.length) flush();
      staging.set(chunk, used);
      used += chunk.byteLength;
    }
    flush();
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  await rename(tmp, path);
}

export interface NumericTable {
  /** Column names in file order (numeric columns only). */
  names: string[];
  columns: Map<string, Float64Array>;
  /** String (dictionary) columns; null where the value is null. */
  strings: Map<string, Array<string | null>>;
  metadata: Map<string, string>;
  rows: number;
}

/** Reads an Arrow IPC file (its columns are views on the file's bytes; nothing is copied yet). */
export async function loadArrowTable(path: string): Promise<Table> {
  return tableFromIPC(await readFile(path));
}

/** Whether a column holds strings (dictionary or utf8) rather than numbers. */
export function isStringColumn(type: DataType): boolean {
  return Dictionary.isDictionary(type) || type instanceof Utf8;
}

/**
 * Copies a numeric column into `out` from index `at`, as float64 with nulls → NaN. A float64 column
 * is one memcpy per record batch, then NaN where the validity bitmap has a zero bit (whole bytes of
 * valid bits are skipped, so a few nulls cost next to nothing).
 */
export function copyNumericColumn(table: Table, name: string, out: Float64Array, at: number): void {
  const vec = table.getChild(name);
  if (!vec) throw new Error(`no column ${name}`);
  let start = at;
  for (const d of vec.data) {
    const vals = d.values as ArrayLike<number>;
    const bitmap = d.nullCount > 0 ? d.nullBitmap : undefined;
    if (d.offset !== 0) {
      // Sliced data (never produced by our writer): take the slow, always-correct path.
      for (let i = 0; i < d.length; i++) out[start + i] = Number(vec.get(start - at + i) ?? NaN);
      start += d.length;
      continue;
    }
    if (vals instanceof Float64Array) out.set(vals.subarray(0, d.length), start);
    else for (let i = 0; i < d.length; i++) out[start + i] = Number(vals[i]);
    if (bitmap) {
      for (let byte = 0; byte < (d.length + 7) >> 3; byte++) {
        const b = bitmap[byte] as number;
        if (b === 0xff) continue;
        for (let bit = 0; bit < 8; bit++) {
          const i = (byte << 3) + bit;
          if (i < d.length && ((b >> bit) & 1) === 0) out[start + i] = NaN;
        }
      }
    }
    start += d.length;
  }
}

/** Reads an Arrow IPC file into Float64 columns (nulls → NaN) and string columns. */
export async function readArrowTable(path: string): Promise<NumericTable> {
  const table = await loadArrowTable(path);
  const names: string[] = [];
  const columns = new Map<string, Float64Array>();
  const strings = new Map<string, Array<string | null>>();
  for (const field of table.schema.fields) {
    const vec = table.getChild(field.name);
    if (!vec) continue;
    if (isStringColumn(field.type as DataType)) {
      strings.set(field.name, Array.from(vec.toArray() as Iterable<string | null>));
      continue;
    }
    const out = new Float64Array(table.numRows);
    copyNumericColumn(table, field.name, out, 0);
    names.push(field.name);
    columns.set(field.name, out);
  }
  return { names, columns, strings, metadata: table.schema.metadata, rows: table.numRows };
}
