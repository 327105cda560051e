import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetConfig } from '../../schemas/dataset';
import type { FaultRecord } from '../../schemas/fault-log';
import { parseDuration } from '../../schemas/duration';
import type { DatasetRef } from './types';
import type { DataType, Table } from 'apache-arrow';
import { copyNumericColumn, isStringColumn, loadArrowTable, writeArrowTable } from '../metrics/arrow-table';
import { DATASET_ERRORS, DatasetError } from './errors';
import { labelPoints, maskNamer, type PointLabels } from './label';
import { cleanColumns, type CleanReport, type Segment } from './clean';
import { clipRange, fitScaler, scaleRowMajor, type ScalerParams } from './scaler';
import { concatWindows, makeWindows, type WindowSet } from './windows';
import { faultEpisodes } from './episodes';
import { NpyWriter, writeNpySync } from './npy';
import { csvThreadsBeside, writeReferenceCsv } from './csv';
import { renderCardMarkdown, type DatasetCard } from './card';
import { yieldToLoop } from '../metrics/activity-context';

/** Phases that make a dataset: training and validation come from the baseline, the test set from chaos. */
export const BASELINE_PHASE = 'baseline';
export const CHAOS_PHASE = 'chaos';
export const SPLITS = ['train', 'val', 'test'] as const;
export type Split = (typeof SPLITS)[number];

export interface BuildArgs {
  campaignId: string;
  configHash: string;
  outDir: string;
  /** phase name → Arrow table from collectMetrics */
  tables: Record<string, string>;
  faults: FaultRecord[];
  faultLogPath?: string;
  config: DatasetConfig;
  stepMs?: number;
  /** Skip dataset.csv (e.g. when only the trainer's files are needed). */
  csv?: boolean;
  /** Called between stages (heartbeat hook). */
  onStage?: (stage: string) => void;
}

export interface BuildResult extends DatasetRef {
  card: DatasetCard;
  /** Wall time per stage, ms. */
  timings: Record<string, number>;
}

/** Columns ready for the pipeline: concatenated phases (segments), one shared float64 array per series. */
export interface Loaded {
  ts: Float64Array;
  names: string[];
  cols: Map<string, Float64Array>;
  segments: Segment[];
  featureMeta: Array<{ name: string; query: string; unit?: string }>;
  stepMs: number;
  ignoredPhases: string[];
}

/** A float64 array on shared memory (the CSV threads read it in place). */
function sharedFloat64(n: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(n * Float64Array.BYTES_PER_ELEMENT));
}

async function loadPhases(tables: Record<string, string>, stepHint: number | undefined): Promise<Loaded> {
  const wanted = [BASELINE_PHASE, CHAOS_PHASE].filter((p) => tables[p] !== undefined);
  const ignoredPhases = Object.keys(tables).filter((p) => !wanted.includes(p));
  if (!wanted.includes(BASELINE_PHASE)) {
    throw new DatasetError(
      `no "${BASELINE_PHASE}" table among the collected phases (${Object.keys(tables).join(', ') || 'none'}): the scaler and the training split need the normal baseline`,
      DATASET_ERRORS.invalidInput,
    );
  }
  const parts = [];
  for (const p of wanted) parts.push({ phase: p, table: await loadArrowTable(tables[p] as string) });
  const numericNames = (t: Table) =>
    t.schema.fields.filter((f) => !isStringColumn(f.type as DataType)).map((f) => f.name);
  const first = parts[0]!.table;
  const names = numericNames(first).filter((n) => n !== 'timestamp');
  for (const { phase, table } of parts) {
    if (!numericNames(table).includes('timestamp'))
      throw new DatasetError(`${tables[phase]}: no timestamp column`, DATASET_ERRORS.invalidInput);
    const other = numericNames(table).filter((n) => n !== 'timestamp');
    if (other.join(',') !== names.join(',')) {
      throw new DatasetError(
        `phase ${phase} has features [${other.join(', ')}], ${wanted[0]} has [${names.join(', ')}]`,
        DATASET_ERRORS.invalidInput,
      );
    }
  }
  // One copy, straight from the files' column buffers into the concatenated columns.
  const n = parts.reduce((a, p) => a + p.table.numRows, 0);
  const ts = sharedFloat64(n);
  const cols = new Map<string, Float64Array>(names.map((name) => [name, sharedFloat64(n)]));
  const segments: Segment[] = [];
  let at = 0;
  for (const { phase, table } of parts) {
    copyNumericColumn(table, 'timestamp', ts, at);
    for (const name of names) copyNumericColumn(table, name, cols.get(name) as Float64Array, at);
    segments.push({ name: phase, from: at, to: at + table.numRows });
    at += table.numRows;
  }
  for (let i = 1; i < n; i++) {
    if (!((ts[i] as number) > (ts[i - 1] as number))) {
      throw new DatasetError(
        `timestamps are not increasing at row ${i} (${ts[i - 1]} then ${ts[i]}): phases overlap?`,
        DATASET_ERRORS.invalidInput,
      );
    }
  }
  const metadata = first.schema.metadata;
  let featureMeta: Loaded['featureMeta'] = names.map((name) => ({ name, query: '' }));
  const metaText = metadata.get('features');
  if (metaText) {
    try {
      featureMeta = JSON.parse(metaText) as Loaded['featureMeta'];
    } catch {
      /* keep names only */
    }
  }
  const stepMeta = Number(metadata.get('stepMs'));
  const stepMs = stepHint ?? (stepMeta > 0 ? stepMeta : n > 1 ? (ts[1] as number) - (ts[0] as number) : 1000);
  return { ts, names, cols, segments, featureMeta, stepMs, ignoredPhases };
}

/** Ranges [from, to) of the splits: train = baseline head, val = baseline tail + chaos head, test = chaos rest. */
export function splitRanges(segments: Segment[], cfg: Pick<DatasetConfig, 'valFraction' | 'valChaosFraction'>) {
  const base = segments.find((s) => s.name === BASELINE_PHASE) as Segment;
  const chaos = segments.find((s) => s.name === CHAOS_PHASE);
  const trainEnd = base.from + Math.round((base.to - base.from) * (1 - cfg.valFraction));
  const chaosValEnd = chaos ? chaos.from + Math.round((chaos.to - chaos.from) * cfg.valChaosFraction) : 0;
  return {
    train: [{ from: base.from, to: trainEnd }],
    val: [{ from: trainEnd, to: base.to }, ...(chaos ? [{ from: chaos.from, to: chaosValEnd }] : [])],
    test: chaos ? [{ from: chaosValEnd, to: chaos.to }] : [],
  } satisfies Record<Split, Array<{ from: number; to: number }>>;
}

/** Wall time per stage; between stages the event loop gets a turn, so heartbeat timers keep firing. */
function stopwatch(onStage?: (stage: string) => void) {
  const timings: Record<string, number> = {};
  let t0 = performance.now();
  const lap = async (stage: string) => {
    const now = performance.now();
    timings[stage] = Math.round(now - t0);
    onStage?.(stage);
    await yieldToLoop();
    t0 = performance.now();
  };
  return { timings, lap };
}

/**
 * The whole pipeline on collected tables: load → label → clean → scale → window → write.
 * Columnar typed arrays throughout; windows are slices of one row-major float32 matrix.
 */
export async function buildDatasetFromTables(args: BuildArgs): Promise<BuildResult> {
  const cfg = args.config;
  const watch = stopwatch(args.onStage);
  const data = await loadPhases(args.tables, args.stepMs);
  const { ts, segments } = data;
  await watch.lap('read');

  const chaosSeg = segments.find((s) => s.name === CHAOS_PHASE);
  const labelMarginMs = parseDuration(cfg.labelMargin);
  const labels = labelPoints(
    ts,
    args.faults,
    labelMarginMs,
    chaosSeg ? { from: chaosSeg.from, to: chaosSeg.to } : { from: 0, to: 0 },
  );
  await watch.lap('label');
  const labelling: DatasetCard['labelling'] = {
    rule: 'anomalous iff appliedMs <= t < (recoveredMs ?? removedMs) + margin; never-ended faults run to the end of the data; baseline normal by construction',
    marginMs: labelMarginMs,
    faultLog: args.faultLogPath ?? null,
    faults: { applied: labels.applied, ignored: labels.ignored, reachingOutsideChaos: labels.outsideRange },
    windowLabel: cfg.windowLabel,
  };
  return buildDatasetFromColumns(
    { ...args, data, labels, labelling, episodes: { faults: args.faults, marginMs: labelMarginMs } },
    watch,
  );
}

export interface ColumnsBuildArgs {
  campaignId: string;
  configHash: string;
  outDir: string;
  config: DatasetConfig;
  csv?: boolean;
  onStage?: (stage: string) => void;
  data: Loaded;
  /** Per-point labels (from a fault log, or from a label column of imported files). */
  labels: Pick<PointLabels, 'isAnomaly' | 'typeMask' | 'types'>;
  labelling: DatasetCard['labelling'];
  /** Longest gap filled, in points (default: config.maxGapFill / stepMs). */
  maxGapPoints?: number;
  /** Where the data came from when it was imported from files (the card's `import` section). */
  imported?: DatasetCard['import'];
  /** The fault log behind the labels: episodes.json (per-episode ground truth) is written from it. */
  episodes?: { faults: readonly FaultRecord[]; marginMs: number };
}

/** Clean → scale → window → write, on columns already loaded and labelled (campaign tables or imported CSV). */
export async function buildDatasetFromColumns(
  args: ColumnsBuildArgs,
  watch = stopwatch(args.onStage),
): Promise<BuildResult> {
  const cfg = args.config;
  const { timings } = watch;
  const lap = watch.lap;
  const W = cfg.window.size;
  const stride = cfg.window.stride;
  const { data, labels } = args;
  const { ts, cols, segments, stepMs } = data;

  // Gaps are filled within a split range, never from a neighbour across a split boundary
  // (interpolating a training point from a test point would leak).
  const ranges = splitRanges(segments, cfg);
  const cleanSegments: Segment[] = SPLITS.flatMap((split) =>
    ranges[split].filter((r) => r.to > r.from).map((r) => ({ name: split, ...r })),
  );
  const maxGapPoints = args.maxGapPoints ?? Math.floor(parseDuration(cfg.maxGapFill) / stepMs);
  const cleaned = cleanColumns(ts, data.names, cols, cleanSegments, maxGapPoints, cfg.onLongGap);
  const names = cleaned.names;
  if (names.length === 0)
    throw new DatasetError('every series was dropped by cleaning; no feature is left', DATASET_ERRORS.invalidInput);
  await lap('clean');

  const trainRange = ranges.train[0]!;
  if (trainRange.to - trainRange.from < W) {
    throw new DatasetError(
      `the training part of the baseline has ${trainRange.to - trainRange.from} points, fewer than one window (${W})`,
      DATASET_ERRORS.invalidInput,
    );
  }
  // The detector's input: the selected series (dataset.modelFeatures); every kept series stays in the CSV.
  const modelNames = selectFeatures(names, cfg.modelFeatures);
  const scaler = fitScaler(cfg.scaler, modelNames, cols, ts, labels.isAnomaly, trainRange.from, trainRange.to);
  scaler.clip = clipRange(cfg.scaler, cfg.clip);
  const scaled = scaleRowMajor(scaler, cols, ts.length);
  await lap('scale');

  // The CSV is formatted and written by worker threads (reading the shared columns in place) while
  // this thread windows and writes the .npy and Arrow files; awaited below.
  await mkdir(args.outDir, { recursive: true });
  const csvStarted = performance.now();
  const csvDone =
    args.csv === false
      ? undefined
      : writeReferenceCsv(
          join(args.outDir, 'dataset.csv'),
          ts,
          stepMs,
          labels.isAnomaly,
          cfg.csvValues === 'scaled' ? modelNames : names,
          cfg.csvValues === 'scaled' ? { rowMajor: scaled } : { cols },
          undefined,
          csvThreadsBeside(),
        );
  csvDone?.catch(() => undefined); // observed by the await below; avoids an unhandled rejection meanwhile

  const windows = {} as Record<Split, WindowSet>;
  for (const split of SPLITS) {
    let set: WindowSet = { starts: new Int32Array(0), labels: new Uint8Array(0), typeMask: new Uint32Array(0) };
    for (const r of ranges[split])
      set = concatWindows(
        set,
        makeWindows(r.from, r.to, W, stride, labels.isAnomaly, labels.typeMask, cfg.windowLabel),
      );
    windows[split] = set;
  }
  await lap('window');

  await mkdir(args.outDir, { recursive: true });
  const nameOf = maskNamer(labels.types);
  const F = modelNames.length;
  for (const split of SPLITS) {
    const set = windows[split];
    const n = set.starts.length;
    const w = new NpyWriter(join(args.outDir, `${split}.npy`), 'float32', [n, W, F]);
    // A window is a contiguous slice of `scaled`: copied straight into the writer's buffer. The
    // event loop gets a turn every few tens of MB (heartbeats).
    const perTurn = Math.max(1, Math.floor((32 << 20) / (W * F * 4)));
    for (let k0 = 0; k0 < n; k0 += perTurn) {
      w.writeSlices(scaled, set.starts, k0, Math.min(n, k0 + perTurn), F, W * F);
      await yieldToLoop();
    }
    w.close();
    writeNpySync(join(args.outDir, `${split}_labels.npy`), { dtype: 'uint8', shape: [n], data: set.labels });
    const times = new Float64Array(n * 2);
    for (let k = 0; k < n; k++) {
      const s = set.starts[k] as number;
      times[2 * k] = ts[s] as number;
      times[2 * k + 1] = ts[s + W - 1] as number;
    }
    writeNpySync(join(args.outDir, `${split}_times.npy`), { dtype: 'float64', shape: [n, 2], data: times });
    const typeNames: Array<string | null> = new Array<string | null>(n);
    for (let k = 0; k < n; k++) typeNames[k] = nameOf(set.typeMask[k] as number);
    await writeFile(join(args.outDir, `${split}_fault_types.json`), JSON.stringify(typeNames));
  }
  await writeFile(join(args.outDir, 'features.json'), JSON.stringify(modelNames));
  if (args.episodes) {
    const eps = faultEpisodes(args.episodes.faults, args.episodes.marginMs, ts, windows, W, cfg.windowLabel);
    await writeFile(join(args.outDir, 'episodes.json'), JSON.stringify(eps, null, 1));
  }
  await writeFile(join(args.outDir, 'scaler.json'), JSON.stringify(scaler, null, 1));
  await lap('write-npy');

  // Point table: cleaned values in their units, label, fault type and split per point.
  const splitCodes = new Int32Array(ts.length).fill(-1);
  SPLITS.forEach((split, code) => ranges[split].forEach((r) => splitCodes.fill(code, r.from, r.to)));
  const maskCodes = new Map<number, number>();
  const dict: string[] = [];
  const typeCodes = new Int32Array(ts.length);
  for (let i = 0; i < ts.length; i++) {
    const m = labels.typeMask[i] as number;
    if (m === 0) {
      typeCodes[i] = -1;
      continue;
    }
    let c = maskCodes.get(m);
    if (c === undefined) {
      c = dict.length;
      maskCodes.set(m, c);
      dict.push(nameOf(m) as string);
    }
    typeCodes[i] = c;
  }
  await writeArrowTable(
    join(args.outDir, 'points.arrow'),
    [
      { name: 'timestamp', kind: 'f64', values: ts, nullable: false },
      ...names.map((n) => ({ name: n, kind: 'f64' as const, values: cols.get(n) as Float64Array, nullable: false })),
      { name: 'is_anomaly', kind: 'u8', values: labels.isAnomaly },
      { name: 'fault_type', kind: 'dict', codes: typeCodes, dictionary: dict },
      { name: 'split', kind: 'dict', codes: splitCodes, dictionary: [...SPLITS] },
    ],
    { campaignId: args.campaignId, configHash: args.configHash, stepMs: String(stepMs) },
  );
  await lap('write-arrow');

  if (csvDone) {
    await csvDone;
    // Wall time left after the other writes (the CSV ran alongside them), and its own total.
    await lap('write-csv');
    timings['csv-total'] = Math.round(performance.now() - csvStarted);
  }

  const card = makeCard(args, data, names, labels, cleaned.report, scaler, ranges, windows, stepMs);
  const cardPath = join(args.outDir, 'card.json');
  await writeFile(cardPath, JSON.stringify(card, null, 1));
  await writeFile(join(args.outDir, 'card.md'), renderCardMarkdown(card));
  await lap('card');

  return {
    dir: args.outDir,
    cardPath,
    windows: { train: windows.train.starts.length, val: windows.val.starts.length, test: windows.test.starts.length },
    features: names,
    windowSize: W,
    card,
    timings,
  };
}

/**
 * The series matching any of the glob patterns (`*` = any run of characters), in collection order.
 * Fails, naming the field, when nothing matches: a detector needs at least one input.
 */
export function selectFeatures(names: string[], patterns: readonly string[]): string[] {
  const res = patterns.map((p) => new RegExp(`^${p.split('*').map(escapeRegExp).join('.*')}$`));
  const out = names.filter((n) => res.some((re) => re.test(n)));
  if (out.length === 0) {
    throw new DatasetError(
      `dataset.modelFeatures [${patterns.join(', ')}] matches none of the ${names.length} series left after cleaning ` +
        `(${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''}); widen the patterns or use ["*"]`,
      DATASET_ERRORS.invalidInput,
    );
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

function makeCard(
  args: ColumnsBuildArgs,
  data: Loaded,
  names: string[],
  labels: ColumnsBuildArgs['labels'],
  clean: CleanReport,
  scaler: ScalerParams,
  ranges: ReturnType<typeof splitRanges>,
  windows: Record<Split, WindowSet>,
  stepMs: number,
): DatasetCard {
  const { ts } = data;
  const span = (r: { from: number; to: number }) =>
    r.to > r.from
      ? { startMs: ts[r.from] as number, endMs: ts[r.to - 1] as number, points: r.to - r.from }
      : { startMs: null, endMs: null, points: 0 };
  const splits = {} as DatasetCard['splits'];
  for (const split of SPLITS) {
    const set = windows[split];
    const byMask = new Map<number, number>();
    let anomalous = 0;
    for (let k = 0; k < set.labels.length; k++) {
      if (set.labels[k]) anomalous++;
      const m = set.typeMask[k] as number;
      byMask.set(m, (byMask.get(m) ?? 0) + 1);
    }
    const nameOf = maskNamer(labels.types);
    const byType: Record<string, number> = {};
    for (const [m, count] of [...byMask].sort((a, b) => a[0] - b[0])) byType[nameOf(m) ?? 'normal'] = count;
    let anomalousPoints = 0;
    for (const r of ranges[split]) for (let i = r.from; i < r.to; i++) anomalousPoints += labels.isAnomaly[i] as number;
    splits[split] = {
      ranges: ranges[split].map(span),
      windows: { total: set.labels.length, normal: set.labels.length - anomalous, anomalous },
      windowsByFaultType: byType,
      points: { total: ranges[split].reduce((a, r) => a + r.to - r.from, 0), anomalous: anomalousPoints },
    };
  }
  const meta = new Map(data.featureMeta.map((f) => [f.name, f]));
  return {
    campaignId: args.campaignId,
    configHash: args.configHash,
    createdAt: new Date().toISOString(),
    stepMs,
    phases: data.segments.map((s) => ({ name: s.name, ...span(s) })),
    ignoredPhases: data.ignoredPhases,
    features: names.map((n) => ({ name: n, query: meta.get(n)?.query ?? '', unit: meta.get(n)?.unit ?? '' })),
    labelling: args.labelling,
    window: { size: args.config.window.size, stride: args.config.window.stride },
    splits,
    cleaning: clean,
    scaler,
    config: args.config,
    ...(args.imported ? { import: args.imported } : {}),
  };
}
