import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpyAs } from '../activities/dataset/npy';
import { UsadScorer, combineTerms } from '../activities/model/score';
import { exportScript, pythonTorch } from './fixtures/model-helpers';

describe('model ONNX scoring', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fl-score-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the same error terms as PyTorch on a torch-exported USAD model', async function () {
    const py = pythonTorch();
    if (!py.ok) {
      console.warn(`SKIPPED: ONNX-vs-PyTorch check needs /usr/bin/python3 with torch (${py.why})`);
      this.skip();
    }
    py.run([exportScript(), '--out', dir, '--window', '5', '--features', '7', '--latent', '6', '--n', '301']);
    const x = await readNpyAs(join(dir, 'windows.npy'), 'float32');
    const ref = await readNpyAs(join(dir, 'torch_terms.npy'), 'float64');
    assert.deepEqual(x.shape, [301, 5, 7]);
    // batch 64 leaves a partial last batch, exercising the dynamic batch axis
    const scorer = await UsadScorer.open(join(dir, 'model.onnx'), 35, { batchSize: 64, intraOpThreads: 1 });
    try {
      const terms = await scorer.terms(x.data);
      let maxDiff = 0;
      for (let i = 0; i < 301; i++) {
        maxDiff = Math.max(
          maxDiff,
          Math.abs(terms.err1[i]! - ref.data[i]!),
          Math.abs(terms.err2[i]! - ref.data[301 + i]!),
        );
      }
      assert.ok(maxDiff < 1e-4, `max |onnx − torch| = ${maxDiff}`);
      const s = combineTerms(terms, 0.3, 0.7);
      assert.ok(Math.abs(s[0]! - (0.3 * ref.data[0]! + 0.7 * ref.data[301]!)) < 1e-4);
      // one session, reused: a second pass gives identical numbers
      const again = await scorer.terms(x.data.subarray(0, 35 * 10));
      assert.deepEqual([...again.err1], [...terms.err1.subarray(0, 10)]);
    } finally {
      await scorer.close();
    }
  });

  it("gives PyTorch's scores on the trainer's own export (workers/training/usad)", async function () {
    const py = pythonTorch();
    const trainerDir = join(__dirname, '..', '..', 'workers', 'training', 'usad');
    if (!py.ok || !existsSync(join(trainerDir, 'usad', 'export.py'))) {
      console.warn(`SKIPPED: needs python torch and workers/training/usad (${py.why || 'trainer absent'})`);
      this.skip();
    }
    const out = join(dir, 'trainer');
    // The trainer's UsadModel and export_onnx, MSL-shaped (W=12, F=55, z=40), random weights.
    py.run([
      '-c',
      [
        'import sys, os, numpy as np, torch',
        `sys.path.insert(0, ${JSON.stringify(trainerDir)})`,
        'from usad.model import UsadModel',
        'from usad.export import export_onnx',
        `out = ${JSON.stringify(out)}`,
        'os.makedirs(out, exist_ok=True)',
        'torch.manual_seed(3)',
        'm = UsadModel(660, 40).eval()',
        "export_onnx(m, os.path.join(out, 'model.onnx'))",
        'x = (np.random.RandomState(0).rand(257, 660) * 1.5).astype(np.float32)',
        "np.save(os.path.join(out, 'x.npy'), x)",
        'with torch.no_grad():',
        '    t = torch.from_numpy(x); r1, r2 = m(t)',
        "    np.save(os.path.join(out, 'terms.npy'), np.stack([((t - r1) ** 2).mean(1).double().numpy(), ((t - r2) ** 2).mean(1).double().numpy()]))",
      ].join('\n'),
    ]);
    const x = await readNpyAs(join(out, 'x.npy'), 'float32');
    const ref = await readNpyAs(join(out, 'terms.npy'), 'float64');
    const scorer = await UsadScorer.open(join(out, 'model.onnx'), 660, { batchSize: 100 });
    try {
      const terms = await scorer.terms(x.data);
      let maxDiff = 0;
      for (let i = 0; i < 257; i++) {
        maxDiff = Math.max(
          maxDiff,
          Math.abs(terms.err1[i]! - ref.data[i]!),
          Math.abs(terms.err2[i]! - ref.data[257 + i]!),
        );
      }
      assert.ok(maxDiff < 1e-4, `max |onnx − torch| = ${maxDiff}`);
    } finally {
      await scorer.close();
    }
  });

  it('refuses a model without the contract outputs', async function () {
    const py = pythonTorch();
    if (!py.ok) this.skip();
    const bad = join(dir, 'bad.onnx');
    py.run([
      '-c',
      `import torch; torch.onnx.export(torch.nn.Linear(4, 4), torch.zeros(1, 4), ${JSON.stringify(bad)}, input_names=['input'], output_names=['out'])`,
    ]);
    await assert.rejects(UsadScorer.open(bad, 4), /recon1/);
  });
});
