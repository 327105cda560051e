import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ScalerParams } from '../dataset/scaler';
import type { DatasetCard } from '../dataset/card';
import { scaleRowMajor } from '../dataset/scaler';
import { readScoringFile, type ImportOptions } from '../dataset/import';
import { DATASET_ERRORS, DatasetError } from '../dataset/errors';
import { UsadScorer, combineTerms } from './score';
import { predict } from './metrics';

/**
 * Scores new data with an already trained model: the data (a CSV in the format the model's dataset was
 * imported from, or any CSV with its feature columns) is scaled with the model's TRAINING scaler,
 * windowed as in training (stride 1), scored with the model's ONNX export in Node, and compared with
 * the threshold its evaluation chose on validation data.
 */
export interface ScoreDataOptions {
  /** A campaign (or imported-dataset run) directory holding dataset/, model/ and results/. */
  runDir: string;
  dataPath: string;
  /** .csv or .json (by extension) */
  outPath: string;
  read?: Partial<Omit<ImportOptions, 'features' | 'config' | 'outDir'>>;
}

export interface ScoreDataSummary {
  outPath: string;
  rows: number;
  windows: number;
  alarms: number;
  threshold: number;
  thresholdMethod: string;
  windowSize: number;
  features: string[];
  unusedColumns: string[];
  filled: Record<string, number>;
  /** only when the data has a label column */
  labelled: { anomalous: number; caught: number; falseAlarms: number } | null;
}

interface ModelMeta {
  window: number;
  features: string[];
  alpha: number;
  beta: number;
}

const fail = (msg: string): never => {
  throw new DatasetError(msg, DATASET_ERRORS.invalidInput);
};

async function readJson<T>(path: string, what: string): Promise<T> {
  if (!existsSync(path)) fail(`${path} is missing: ${what}`);
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

export async function scoreData(opts: ScoreDataOptions): Promise<ScoreDataSummary> {
  const run = resolve(opts.runDir);
  const onnxPath = join(run, 'model', 'model.onnx');
  if (!existsSync(onnxPath))
    fail(
      `${run} has no trained model (model/model.onnx): give a campaign or \`faultline dataset train\` run directory`,
    );
  const meta = await readJson<ModelMeta>(join(run, 'model', 'model.json'), 'the model export metadata');
  const scaler = await readJson<ScalerParams>(join(run, 'dataset', 'scaler.json'), 'the training scaler');
  const results = await readJson<{
    chosenThreshold?: { threshold: number; method: string };
    usad?: { threshold: number; thresholdMethod: string };
  }>(join(run, 'results', 'results.json'), 'the evaluation that chose the threshold (run the evaluate phase)');
  const threshold = results.usad?.threshold ?? results.chosenThreshold?.threshold;
  const thresholdMethod = results.usad?.thresholdMethod ?? results.chosenThreshold?.method ?? 'unknown';
  if (typeof threshold !== 'number') fail(`${join(run, 'results', 'results.json')} names no USAD threshold`);
  if (meta.features.join('\u0000') !== scaler.features.join('\u0000')) {
    fail(
      `${run}: the model's features (${meta.features.join(', ')}) differ from its scaler's (${scaler.features.join(', ')})`,
    );
  }

  // New data in the imported files' format is read as they were (timestamp column, timezone), unless told otherwise.
  const cardPath = join(run, 'dataset', 'card.json');
  const imported = existsSync(cardPath)
    ? (JSON.parse(await readFile(cardPath, 'utf8')) as Partial<DatasetCard>).import
    : undefined;
  const read = {
    ...(imported
      ? {
          timestampColumn: imported.timestampColumn,
          labelColumn: imported.labelColumn ?? undefined,
          timezone: imported.timezone.name,
        }
      : {}),
    ...Object.fromEntries(Object.entries(opts.read ?? {}).filter(([, v]) => v !== undefined)),
  };
  const data = await readScoringFile(opts.dataPath, scaler.features, read);
  const n = data.ts.length;
  const W = meta.window;
  const F = scaler.features.length;
  if (n < W) fail(`${opts.dataPath}: ${n} rows, fewer than the model's window of ${W} rows`);
  const scaled = scaleRowMajor(scaler, data.cols, n);
  const nw = n - W + 1;
  const windows = new Float32Array(nw * W * F);
  // stride 1: window s is rows [s, s + W), a contiguous slice of the row-major matrix
  for (let s = 0; s < nw; s++) windows.set(scaled.subarray(s * F, (s + W) * F), s * W * F);
  const scorer = await UsadScorer.open(onnxPath, W * F);
  let scores: Float64Array;
  try {
    scores = combineTerms(await scorer.terms(windows), meta.alpha, meta.beta);
  } finally {
    await scorer.close();
  }
  const alarms = predict(scores, threshold!);
  // a window's label: anomalous if any of its rows is (the "any" rule)
  let labels: Uint8Array | null = null;
  if (data.isAnomaly) {
    labels = new Uint8Array(nw);
    let inWindow = 0;
    for (let i = 0; i < n; i++) {
      inWindow += data.isAnomaly[i]!;
      if (i >= W) inWindow -= data.isAnomaly[i - W]!;
      if (i >= W - 1) labels[i - W + 1] = inWindow > 0 ? 1 : 0;
    }
  }
  const iso = (ms: number) => new Date(ms).toISOString();
  await mkdir(dirname(resolve(opts.outPath)), { recursive: true });
  const rows = Array.from({ length: nw }, (_, s) => ({
    window_start: iso(data.ts[s]!),
    window_end: iso(data.ts[s + W - 1]!),
    score: scores[s]!,
    alarm: alarms[s]!,
    ...(labels ? { label: labels[s]! } : {}),
  }));
  if (opts.outPath.endsWith('.json')) {
    await writeFile(
      opts.outPath,
      JSON.stringify(
        {
          model: run,
          detector: 'usad',
          threshold,
          thresholdMethod,
          windowSize: W,
          features: scaler.features,
          windows: rows,
        },
        null,
        1,
      ),
    );
  } else {
    const head = ['window_start', 'window_end', 'score', 'alarm', ...(labels ? ['label'] : [])];
    const lines = rows.map((r) =>
      [r.window_start, r.window_end, String(r.score), String(r.alarm), ...(labels ? [String(r.label)] : [])].join(','),
    );
    await writeFile(opts.outPath, [head.join(','), ...lines].join('\n') + '\n');
  }
  let labelled: ScoreDataSummary['labelled'] = null;
  if (labels) {
    let anomalous = 0;
    let caught = 0;
    let falseAlarms = 0;
    for (let s = 0; s < nw; s++) {
      if (labels[s]) {
        anomalous++;
        caught += alarms[s]!;
      } else falseAlarms += alarms[s]!;
    }
    labelled = { anomalous, caught, falseAlarms };
  }
  return {
    outPath: resolve(opts.outPath),
    rows: n,
    windows: nw,
    alarms: alarms.reduce((a, b) => a + b, 0),
    threshold: threshold!,
    thresholdMethod,
    windowSize: W,
    features: scaler.features,
    unusedColumns: data.unused,
    filled: data.filled,
    labelled,
  };
}
