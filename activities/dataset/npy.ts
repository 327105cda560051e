import { closeSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';

/**
 * The one .npy codec: the dataset writes its windows, labels and times with it (streaming, bigger than memory),
 * and the model reads them back and writes its scores with it.
 */

/** The dtypes the dataset contract uses (see activities/dataset/types.ts). */
export type NpyDtype = 'float32' | 'float64' | 'uint8';

export type NpyData = Float32Array | Float64Array | Uint8Array;

export interface NpyArray<T extends NpyData = NpyData> {
  dtype: NpyDtype;
  shape: number[];
  data: T;
}

/** The array type a dtype reads as. */
export type NpyDataOf<D extends NpyDtype> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : Uint8Array;

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

/** The descr written for each dtype (first) and the ones numpy may write that read as it. */
const DESCR: Record<NpyDtype, string[]> = {
  float32: ['<f4', '=f4', 'f4'],
  float64: ['<f8', '=f8', 'f8'],
  uint8: ['|u1', '<u1', '=u1', 'u1', '|b1', '<b1'],
};

function dtypeOf(descr: string): NpyDtype {
  for (const [dt, names] of Object.entries(DESCR) as [NpyDtype, string[]][]) {
    if (names.includes(descr)) return dt;
  }
  throw new Error(`npy: unsupported dtype '${descr}' (only little-endian float32, float64, uint8/bool)`);
}

function bytesPer(dtype: NpyDtype): number {
  return dtype === 'float64' ? 8 : dtype === 'float32' ? 4 : 1;
}

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The NPY 1.0 header (magic, version, little-endian length, dict padded so the data starts at a multiple of 64). */
export function npyHeader(dtype: NpyDtype, shape: number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${DESCR[dtype][0]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + dict.length + 1;
  dict += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  if (dict.length > 0xffff) throw new Error('npy: header too long');
  const head = Buffer.alloc(10);
  MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1')]);
}

/** Parses a .npy buffer (format versions 1–3, C order only; Fortran order is refused, not transposed). */
export function parseNpy(buf: Buffer): NpyArray {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new Error('npy: bad magic');
  const major = buf[6] ?? 0;
  let headerLen: number;
  let offset: number;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    headerLen = buf.readUInt32LE(8);
    offset = 12;
  } else {
    throw new Error(`npy: unsupported version ${major}`);
  }
  const header = buf.subarray(offset, offset + headerLen).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`npy: cannot parse header ${header}`);
  }
  if (fortran === 'True') throw new Error('npy: Fortran-order arrays are not supported');
  const dtype = dtypeOf(descr);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number(s));
  const n = count(shape);
  const start = offset + headerLen;
  const nbytes = n * bytesPer(dtype);
  if (buf.length < start + nbytes) throw new Error(`npy: truncated (need ${nbytes} data bytes)`);
  // Copy into an aligned buffer: the data offset is only guaranteed 16-byte aligned within the file,
  // not within Node's pooled Buffer.
  const bytes = new Uint8Array(nbytes);
  bytes.set(buf.subarray(start, start + nbytes));
  const data =
    dtype === 'float32'
      ? new Float32Array(bytes.buffer, 0, n)
      : dtype === 'float64'
        ? new Float64Array(bytes.buffer, 0, n)
        : bytes;
  return { dtype, shape, data };
}

function checkLength(arr: NpyArray): void {
  if (count(arr.shape) !== arr.data.length)
    throw new Error(`npy: shape ${arr.shape.join('x')} does not match ${arr.data.length} elements`);
}

/** The whole file as one buffer. */
export function serializeNpy(arr: NpyArray): Buffer {
  checkLength(arr);
  const body = Buffer.from(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  return Buffer.concat([npyHeader(arr.dtype, arr.shape), body]);
}

/**
 * Streams a C-order array to a .npy file in pieces, so a dataset bigger than memory can be written
 * window by window. Small pieces are batched into one buffer before each write. The file appears under
 * its name only once complete (written to a temporary name, renamed on close).
 */
export class NpyWriter {
  private fd: number;
  private buf: Buffer;
  private used = 0;
  private written = 0;
  private readonly expected: number;
  private readonly tmp: string;

  constructor(
    private readonly path: string,
    dtype: NpyDtype,
    private readonly shape: number[],
    bufferBytes = 8 << 20,
  ) {
    this.expected = count(shape);
    this.tmp = `${path}.tmp-${process.pid}`;
    this.fd = openSync(this.tmp, 'w');
    writeSync(this.fd, npyHeader(dtype, shape));
    this.buf = Buffer.allocUnsafe(bufferBytes);
  }

  /** Appends the elements of `data` (its dtype must match). */
  write(data: NpyData): void {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.written += data.length;
    if (bytes.length >= this.buf.length) {
      this.flush();
      writeSync(this.fd, bytes);
      return;
    }
    if (this.used + bytes.length > this.buf.length) this.flush();
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  /**
   * Appends items k0..k1−1, item k being src[starts[k]·rowElems, starts[k]·rowElems + itemElems):
   * the windows of a row-major matrix, copied straight into the write buffer (no gathered copy).
   */
  writeSlices(src: NpyData, starts: Int32Array, k0: number, k1: number, rowElems: number, itemElems: number): void {
    const bpe = src.BYTES_PER_ELEMENT;
    const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
    const itemBytes = itemElems * bpe;
    const rowBytes = rowElems * bpe;
    for (let k = k0; k < k1; k++) {
      const s = (starts[k] as number) * rowBytes;
      if (itemBytes >= this.buf.length) {
        this.flush();
        writeSync(this.fd, bytes, s, itemBytes);
        continue;
      }
      if (this.used + itemBytes > this.buf.length) this.flush();
      this.buf.set(bytes.subarray(s, s + itemBytes), this.used);
      this.used += itemBytes;
    }
    this.written += (k1 - k0) * itemElems;
  }

  private flush(): void {
    if (this.used) writeSync(this.fd, this.buf, 0, this.used);
    this.used = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
    if (this.written !== this.expected) {
      throw new Error(
        `${this.path}: wrote ${this.written} elements, shape ${JSON.stringify(this.shape)} needs ${this.expected}`,
      );
    }
    renameSync(this.tmp, this.path);
  }
}

/** Writes a whole array at once (synchronously; complete under its name or not there). */
export function writeNpySync(path: string, arr: NpyArray): void {
  checkLength(arr);
  const w = new NpyWriter(path, arr.dtype, arr.shape);
  w.write(arr.data);
  w.close();
}

/** Writes a whole array at once (complete under its name or not there). */
export async function writeNpy(path: string, arr: NpyArray): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, serializeNpy(arr));
  await rename(tmp, path);
}

export function readNpySync(path: string): NpyArray {
  return withPath(path, () => parseNpy(readFileSync(path)));
}

export async function readNpy(path: string): Promise<NpyArray> {
  const buf = await readFile(path);
  return withPath(path, () => parseNpy(buf));
}

/** Reads a .npy that must have the given dtype (the dataset contract fixes them). */
export async function readNpyAs<D extends NpyDtype>(path: string, dtype: D): Promise<NpyArray<NpyDataOf<D>>> {
  const arr = await readNpy(path);
  if (arr.dtype !== dtype) throw new Error(`${path}: expected ${dtype}, found ${arr.dtype}`);
  return arr as NpyArray<NpyDataOf<D>>;
}

/** Errors name the file they are about. */
function withPath<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('npy:')) e.message = `${path}: ${e.message}`;
    throw e;
  }
}
