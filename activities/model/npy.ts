import { readFile, writeFile } from 'node:fs/promises';

/** The dtypes the dataset contract uses (see activities/dataset/types.ts). */
export type NpyDtype = 'float32' | 'float64' | 'uint8';

export type NpyData = Float32Array | Float64Array | Uint8Array;

export interface NpyArray<T extends NpyData = NpyData> {
  dtype: NpyDtype;
  shape: number[];
  data: T;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

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
  const count = shape.reduce((a, b) => a * b, 1);
  const start = offset + headerLen;
  const nbytes = count * bytesPer(dtype);
  if (buf.length < start + nbytes) throw new Error(`npy: truncated (need ${nbytes} data bytes)`);
  // Copy into an aligned buffer: the data offset is only guaranteed 16-byte aligned within the file,
  // not within Node's pooled Buffer.
  const bytes = new Uint8Array(nbytes);
  bytes.set(buf.subarray(start, start + nbytes));
  const data =
    dtype === 'float32'
      ? new Float32Array(bytes.buffer, 0, count)
      : dtype === 'float64'
        ? new Float64Array(bytes.buffer, 0, count)
        : bytes;
  return { dtype, shape, data };
}

export function serializeNpy(arr: NpyArray): Buffer {
  const descr = arr.dtype === 'float32' ? '<f4' : arr.dtype === 'float64' ? '<f8' : '|u1';
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (count !== arr.data.length) throw new Error(`npy: shape ${arr.shape.join('x')} does not match ${arr.data.length}`);
  const shapeText = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad so that magic(6)+version(2)+len(2)+header+\n is a multiple of 64, as numpy does.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  MAGIC.copy(pre, 0);
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), body]);
}

export async function readNpy(path: string): Promise<NpyArray> {
  return parseNpy(await readFile(path));
}

export async function writeNpy(path: string, arr: NpyArray): Promise<void> {
  await writeFile(path, serializeNpy(arr));
}

/** Reads a .npy that must have the given dtype (the dataset contract fixes them). */
export async function readNpyAs<D extends NpyDtype>(
  path: string,
  dtype: D,
): Promise<NpyArray<D extends 'float32' ? Float32Array : D extends 'float64' ? Float64Array : Uint8Array>> {
  const arr = await readNpy(path);
  if (arr.dtype !== dtype) throw new Error(`${path}: expected ${dtype}, found ${arr.dtype}`);
  return arr as NpyArray<D extends 'float32' ? Float32Array : D extends 'float64' ? Float64Array : Uint8Array>;
}
