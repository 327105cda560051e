import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNpy, readNpy, serializeNpy, writeNpy } from '../activities/dataset/npy';
import { pythonTorch } from './fixtures/model-helpers';

describe('model npy files', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fl-npy-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips float32, float64 and uint8 arrays', async () => {
    const f32 = {
      dtype: 'float32' as const,
      shape: [2, 3, 2],
      data: Float32Array.from({ length: 12 }, (_, i) => i / 3),
    };
    const f64 = {
      dtype: 'float64' as const,
      shape: [4, 2],
      data: Float64Array.from({ length: 8 }, (_, i) => Date.now() + i),
    };
    const u8 = { dtype: 'uint8' as const, shape: [5], data: Uint8Array.from([0, 1, 1, 0, 1]) };
    for (const a of [f32, f64, u8]) {
      const p = join(dir, `${a.dtype}.npy`);
      await writeNpy(p, a);
      const b = await readNpy(p);
      assert.equal(b.dtype, a.dtype);
      assert.deepEqual(b.shape, a.shape);
      assert.deepEqual([...b.data], [...a.data]);
    }
    assert.equal(serializeNpy(u8).subarray(0, 10 + serializeNpy(u8).readUInt16LE(8)).length % 64, 0);
  });

  it('reads and writes what numpy reads and writes', async function () {
    const py = pythonTorch();
    if (!py.ok) this.skip();
    const p = join(dir, 'from-numpy.npy');
    const q = join(dir, 'to-numpy.npy');
    await writeNpy(q, { dtype: 'float64', shape: [2, 2], data: Float64Array.from([1.5, 2, 3, 4]) });
    py.run([
      '-c',
      `import numpy as np; np.save(${JSON.stringify(p)}, np.arange(6, dtype=np.float32).reshape(3, 2) / 4); assert np.load(${JSON.stringify(q)}).sum() == 10.5`,
    ]);
    const a = await readNpy(p);
    assert.deepEqual(a.shape, [3, 2]);
    assert.deepEqual([...a.data], [0, 0.25, 0.5, 0.75, 1, 1.25]);
  });

  it('refuses Fortran order and unknown dtypes', async () => {
    const bad = serializeNpy({ dtype: 'uint8', shape: [1], data: Uint8Array.from([1]) });
    const fortran = Buffer.from(
      bad.toString('latin1').replace("'fortran_order': False", "'fortran_order': True "),
      'latin1',
    );
    assert.throws(() => parseNpy(fortran), /Fortran/);
    const int = Buffer.from(bad.toString('latin1').replace("'|u1'", "'<i8'"), 'latin1');
    assert.throws(() => parseNpy(int), /unsupported dtype/);
    await writeFile(join(dir, 'junk.npy'), 'nope');
    await assert.rejects(readNpy(join(dir, 'junk.npy')), /magic/);
  });
});
