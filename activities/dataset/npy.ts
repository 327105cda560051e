import { closeSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

/** The .npy dtypes this project writes. */
export type NpyDtype = '<f4' | '<f8' | '|u1';
type NpyArray = Float32Array | Float64Array | Uint8Array;

const ITEM: Record<NpyDtype, number> = { '<f4': 4, '<f8': 8, '|u1': 1 };

/** The NPY 1.0 header (magic, version, little-endian length, dict padded so the data starts at a multiple of 64). */
export function npyHeader(dtype: NpyDtype, shape: number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + dict.length + 1;
  dict += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  if (dict.length > 0xffff) throw new Error('npy header too long');
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  return Buffer.concat([head, Buffer.from(dict, 'latin1')]);
}

/**
 * Streams a C-order array to a .npy file in pieces, so a dataset bigger than memory can be written
 * window by window. Small pieces are batched into one buffer before each write.
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
    private readonly dtype: NpyDtype,
    private readonly shape: number[],
    bufferBytes = 8 << 20,
  ) {
    this.expected = shape.reduce((a, b) => a * b, 1);
    this.tmp = `${path}.tmp-${process.pid}`;
    this.fd = openSync(this.tmp, 'w');
    writeSync(this.fd, npyHeader(dtype, shape));
    this.buf = Buffer.allocUnsafe(bufferBytes);
  }

  /** Appends the elements of `data` (its dtype must match). */
  write(data: NpyArray): void {
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
  writeSlices(src: NpyArray, starts: Int32Array, k0: number, k1: number, rowElems: number, itemElems: number): void {
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

/** Writes a whole array at once. */
export function writeNpy(path: string, dtype: NpyDtype, shape: number[], data: NpyArray): void {
  const w = new NpyWriter(path, dtype, shape);
  w.write(data);
  w.close();
}

/** Reads a .npy file written by numpy or NpyWriter (little-endian f4/f8/u1, C order). */
export function readNpy(path: string): { dtype: NpyDtype; shape: number[]; data: NpyArray } {
  const buf = readFileSync(path);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path} is not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1] as NpyDtype | undefined;
  if (!descr || !(descr in ITEM)) throw new Error(`${path}: unsupported dtype ${descr ?? '?'}`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order is not supported`);
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const offset = start + headerLen;
  const n = shape.reduce((a, b) => a * b, 1);
  const copy = buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + n * ITEM[descr]);
  const data =
    descr === '<f4' ? new Float32Array(copy) : descr === '<f8' ? new Float64Array(copy) : new Uint8Array(copy);
  return { dtype: descr, shape, data };
}
