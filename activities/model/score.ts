import * as ort from 'onnxruntime-node';

export interface ScorerOptions {
  /** Threads for one operator (MLAS GEMM); default 2, the cores this project may use. */
  intraOpThreads?: number;
  /** Windows per `session.run`; default 4096 (see bench/scoring.ts for the comparison). */
  batchSize?: number;
}

/** The two USAD error terms per window, kept apart so α/β can be swept without re-running the model. */
export interface ScoreTerms {
  /** mean((w − AE1(w))²) per window */
  err1: Float64Array;
  /** mean((w − AE2(AE1(w)))²) per window */
  err2: Float64Array;
}

/**
 * One onnxruntime session over the trainer's export, reused for every batch. The ONNX contract
 * (activities/model/types.ts): input "input" float32 [N, W*F], outputs "recon1", "recon2".
 */
export class UsadScorer {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly dim: number,
    readonly batchSize: number,
  ) {}

  static async open(onnxPath: string, dim: number, opts: ScorerOptions = {}): Promise<UsadScorer> {
    const session = await ort.InferenceSession.create(onnxPath, {
      intraOpNumThreads: opts.intraOpThreads ?? 2,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    for (const name of ['input']) {
      if (!session.inputNames.includes(name)) throw new Error(`${onnxPath}: no ONNX input '${name}'`);
    }
    for (const name of ['recon1', 'recon2']) {
      if (!session.outputNames.includes(name)) throw new Error(`${onnxPath}: no ONNX output '${name}'`);
    }
    return new UsadScorer(session, dim, Math.max(1, opts.batchSize ?? 4096));
  }

  /** Scores `windows` (row-major [n, dim], i.e. the [n, W, F] npy flattened per window). */
  async terms(windows: Float32Array, onBatch?: (done: number, total: number) => void): Promise<ScoreTerms> {
    const { dim } = this;
    if (windows.length % dim !== 0) throw new Error(`window data length ${windows.length} is not a multiple of ${dim}`);
    const n = windows.length / dim;
    const err1 = new Float64Array(n);
    const err2 = new Float64Array(n);
    for (let start = 0; start < n; start += this.batchSize) {
      const rows = Math.min(this.batchSize, n - start);
      const x = windows.subarray(start * dim, (start + rows) * dim);
      const input = new ort.Tensor('float32', x, [rows, dim]);
      const out = await this.session.run({ input });
      const r1 = out.recon1?.data as Float32Array | undefined;
      const r2 = out.recon2?.data as Float32Array | undefined;
      if (!r1 || !r2 || r1.length !== x.length || r2.length !== x.length) {
        throw new Error('ONNX outputs recon1/recon2 do not have the input shape');
      }
      for (let i = 0; i < rows; i++) {
        let s1 = 0;
        let s2 = 0;
        const o = i * dim;
        for (let j = 0; j < dim; j++) {
          const v = x[o + j]!;
          const d1 = v - r1[o + j]!;
          const d2 = v - r2[o + j]!;
          s1 += d1 * d1;
          s2 += d2 * d2;
        }
        err1[start + i] = s1 / dim;
        err2[start + i] = s2 / dim;
      }
      out.recon1?.dispose();
      out.recon2?.dispose();
      onBatch?.(start + rows, n);
    }
    return { err1, err2 };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** score = α·err1 + β·err2 */
export function combineTerms(terms: ScoreTerms, alpha: number, beta: number): Float64Array {
  const out = new Float64Array(terms.err1.length);
  for (let i = 0; i < out.length; i++) out[i] = alpha * terms.err1[i]! + beta * terms.err2[i]!;
  return out;
}
