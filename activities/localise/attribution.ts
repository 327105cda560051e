import * as ort from 'onnxruntime-node';

/**
 * The detector's own per-feature error attribution on a few windows ([n, W, F] row-major, scaled as
 * the detector saw them): a feature's score is its largest share of the detector's error over the
 * windows. Grouped by service by the caller (rank.ts).
 */

/**
 * Nearest-window: each window's squared distance to its nearest training window, split by feature
 * (Σ over the window's time steps of (x − nearest)² for that feature); the feature's score is its
 * maximum over the windows.
 */
export function nearestWindowAttribution(
  train: Float32Array,
  windows: Float32Array,
  W: number,
  F: number,
): Float64Array {
  const dim = W * F;
  const m = train.length / dim;
  const n = windows.length / dim;
  const out = new Float64Array(F).fill(Number.NEGATIVE_INFINITY);
  if (m === 0 || n === 0) return out.fill(Number.NaN);
  for (let q = 0; q < n; q++) {
    const qo = q * dim;
    let best = Number.POSITIVE_INFINITY;
    let bestT = 0;
    for (let t = 0; t < m; t++) {
      const to = t * dim;
      let acc = 0;
      for (let j = 0; j < dim && acc < best; j++) {
        const d = windows[qo + j]! - train[to + j]!;
        acc += d * d;
      }
      if (acc < best) {
        best = acc;
        bestT = t;
      }
    }
    const to = bestT * dim;
    const per = new Float64Array(F);
    for (let w = 0; w < W; w++)
      for (let f = 0; f < F; f++) {
        const d = windows[qo + w * F + f]! - train[to + w * F + f]!;
        per[f]! += d * d;
      }
    for (let f = 0; f < F; f++) if (per[f]! > out[f]!) out[f] = per[f]!;
  }
  return out;
}

/**
 * USAD: α·(x − AE1(x))² + β·(x − AE2(AE1(x)))² per feature, summed over the window's time steps,
 * from the ONNX export's two reconstructions (the contract of activities/model/score.ts); the
 * feature's score is its maximum over the windows.
 */
export async function usadAttribution(
  onnxPath: string,
  windows: Float32Array,
  W: number,
  F: number,
  alpha: number,
  beta: number,
): Promise<Float64Array> {
  const dim = W * F;
  const n = windows.length / dim;
  const out = new Float64Array(F).fill(Number.NEGATIVE_INFINITY);
  if (n === 0) return out.fill(Number.NaN);
  const session = await ort.InferenceSession.create(onnxPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const res = await session.run({ input: new ort.Tensor('float32', windows, [n, dim]) });
    const r1 = res.recon1?.data as Float32Array | undefined;
    const r2 = res.recon2?.data as Float32Array | undefined;
    if (!r1 || !r2 || r1.length !== windows.length || r2.length !== windows.length)
      throw new Error(`${onnxPath}: ONNX outputs recon1/recon2 do not have the input shape`);
    for (let q = 0; q < n; q++) {
      const per = new Float64Array(F);
      for (let w = 0; w < W; w++)
        for (let f = 0; f < F; f++) {
          const i = q * dim + w * F + f;
          const d1 = windows[i]! - r1[i]!;
          const d2 = windows[i]! - r2[i]!;
          per[f]! += alpha * d1 * d1 + beta * d2 * d2;
        }
      for (let f = 0; f < F; f++) if (per[f]! > out[f]!) out[f] = per[f]!;
    }
  } finally {
    await session.release();
  }
  return out;
}

/**
 * trailing-robust-z: each series' directed trailing robust z (`zs`, one per feature over the whole points
 * stream, as the detector computes them: model/trailing-robust-z.ts `seriesZ`) at rows [from, to); the
 * feature's score is its maximum there. The detector's score at a row is the largest of these, so the top
 * feature is the series that raised the alarm.
 */
export function trailingZAttribution(zs: readonly ArrayLike<number>[], from: number, to: number): Float64Array {
  const out = new Float64Array(zs.length).fill(Number.NaN);
  zs.forEach((z, f) => {
    let m = Number.NEGATIVE_INFINITY;
    for (let t = from; t < Math.min(to, z.length); t++) if (z[t]! > m) m = z[t]!;
    if (m > Number.NEGATIVE_INFINITY) out[f] = m;
  });
  return out;
}
