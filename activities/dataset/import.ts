import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { DatasetConfig } from '../../schemas/dataset';
import { buildDatasetFromColumns, type BuildResult, type Loaded } from './build';
import type { DatasetCard, ImportDecision, ImportedFile, ImportInfo } from './card';
import { parseCsv, type CsvTable } from './csv-read';
import { DATASET_ERRORS, DatasetError } from './errors';
import { parseTimestamp, ZonedClock, type ParsedTime } from './timestamps';

/**
 * `faultline dataset import`: CSV files → the dataset layout the trainer and the evaluator read
 * (activities/dataset/types.ts). Two shapes of input: a normal file (training and validation data) plus
 * a labelled test file, or one labelled file split in time. Every data problem either gets a decision
 * that the dataset card names, or an error naming the file, row and column; a failed import leaves
 * nothing behind (everything is written to a temporary directory renamed into place at the end).
 */

/** The reference experiment's CSV (data_clean_3.py): these three columns, then one column per feature. */
export const REFERENCE_COLUMNS = ['window_start', 'window_end', 'Normal/Attack'] as const;

export type EmptyCellPolicy = 'fill' | 'drop-rows' | 'fail';

export interface ImportOptions {
  /** A normal file plus a labelled test file, or one labelled file. */
  normal?: string;
  test?: string;
  labelled?: string;
  outDir: string;
  /** 'auto' (default): the reference layout when its three leading columns are there. */
  format?: 'auto' | 'reference' | 'generic';
  /** default: window_start (reference) or the first of timestamp, time, datetime, date, ts. */
  timestampColumn?: string;
  /** default: Normal/Attack (reference) or the first of label, is_anomaly, anomaly, attack; null: none. */
  labelColumn?: string | null;
  /** Feature columns; default every other column. */
  features?: string[];
  /** Columns to leave out (default: window_end in the reference layout). */
  ignore?: string[];
  /** IANA timezone of naive timestamps; default UTC. */
  timezone?: string;
  emptyCells?: EmptyCellPolicy;
  /** Longest run of empty cells filled (fill policy), in rows. */
  maxGapRows?: number;
  constantColumns?: 'drop' | 'fail';
  unsorted?: 'fail' | 'sort';
  duplicates?: 'fail' | 'keep-first';
  nonNumeric?: 'fail' | 'empty';
  /** One labelled file: the share of rows, from its start, used as the normal training part. */
  trainFraction?: number;
  /** Label values read as normal (besides normal, 0, false, no, ok, benign; case-insensitive). */
  normalLabels?: string[];
  config: DatasetConfig;
  csv?: boolean;
  /** Replace an existing output directory. */
  force?: boolean;
}

type Policies = Required<
  Pick<
    ImportOptions,
    'emptyCells' | 'maxGapRows' | 'constantColumns' | 'unsorted' | 'duplicates' | 'nonNumeric' | 'trainFraction'
  >
>;

export const IMPORT_DEFAULTS: Policies = {
  emptyCells: 'fill',
  maxGapRows: 3,
  constantColumns: 'drop',
  unsorted: 'fail',
  duplicates: 'fail',
  nonNumeric: 'fail',
  trainFraction: 0.5,
};

const TIME_NAMES = ['timestamp', 'time', 'datetime', 'date', 'ts'];
const LABEL_NAMES = ['label', 'is_anomaly', 'anomaly', 'attack', 'normal/attack'];
/** Cells read as empty (pandas and numpy write missing values as these). */
const EMPTY_TOKENS = new Set(['', 'nan', 'NaN', 'NAN', 'NA', 'N/A', 'null', 'NULL', 'None']);
const NORMAL_LABELS = ['normal', '0', 'false', 'no', 'ok', 'benign'];

const fail = (msg: string): never => {
  throw new DatasetError(msg, DATASET_ERRORS.invalidInput);
};

interface ParsedFile {
  path: string;
  role: ImportedFile['role'];
  sha256: string;
  rowsRead: number;
  ts: Float64Array;
  /** one column per feature (NaN = empty cell) */
  values: Float64Array[];
  isAnomaly: Uint8Array;
  /** anomalous rows' label text, normalised (index into the import's type list) */
  typeIdx: Int16Array;
  /** data row number (1-based, header excluded) of each kept row, for error messages */
  rowNo: Int32Array;
  lineNo: Int32Array;
  timeKinds: Set<ParsedTime['kind']>;
  /** non-numeric cells read as empty (--non-numeric empty), per column */
  nonNumeric: Record<string, number>;
}

interface Layout {
  format: 'reference' | 'generic';
  time: string;
  label: string | null;
  features: string[];
  ignored: string[];
}

/** Which columns are time, label and features, from the first file's header and the options. */
function chooseLayout(first: CsvTable, opts: ImportOptions): Layout {
  const h = first.header;
  const isReference = REFERENCE_COLUMNS.every((c) => h.includes(c));
  if (opts.format === 'reference' && !isReference) {
    fail(
      `${first.path}: --format reference needs the columns ${REFERENCE_COLUMNS.join(', ')}; the header has ${h.join(', ')}`,
    );
  }
  const format = opts.format === 'generic' ? 'generic' : isReference ? 'reference' : 'generic';
  const find = (names: string[]) => h.find((c) => names.includes(c.toLowerCase()));
  const time =
    opts.timestampColumn ??
    (format === 'reference' ? 'window_start' : find(TIME_NAMES)) ??
    fail(`${first.path}: no timestamp column among ${h.join(', ')}; name it with --timestamp-column`);
  if (!h.includes(time)) fail(`${first.path}: no timestamp column "${time}"; its columns are ${h.join(', ')}`);
  let label: string | null;
  if (opts.labelColumn === null) label = null;
  else if (opts.labelColumn !== undefined) label = opts.labelColumn;
  else label = (format === 'reference' ? 'Normal/Attack' : find(LABEL_NAMES)) ?? null;
  const ignored = opts.ignore ?? (format === 'reference' ? ['window_end'] : []);
  const features = opts.features ?? h.filter((c) => c !== time && c !== label && !ignored.includes(c));
  if (features.length === 0)
    fail(`${first.path}: no feature column left besides ${[time, label].filter(Boolean).join(', ')}`);
  for (const f of features)
    if (f === time || f === label)
      fail(`column "${f}" cannot be both a feature and the ${f === time ? 'timestamp' : 'label'}`);
  return { format, time, label, features, ignored };
}

/** The same columns in every file (the label column only where labels are needed). */
function checkHeaders(tables: CsvTable[], layout: Layout): void {
  const needed = (t: CsvTable) => t.header.filter((c) => c !== layout.label && !layout.ignored.includes(c));
  const first = tables[0]!;
  const firstCols = needed(first);
  for (const t of tables) {
    for (const c of [layout.time, ...layout.features]) {
      if (!t.header.includes(c)) fail(`${t.path}: no column "${c}" (its header: ${t.header.join(', ')})`);
    }
    if (t === first) continue;
    const cols = needed(t);
    const missing = firstCols.filter((c) => !cols.includes(c));
    const extra = cols.filter((c) => !firstCols.includes(c));
    if (missing.length || extra.length) {
      fail(
        `the headers of ${first.path} and ${t.path} do not match: ` +
          [
            missing.length ? `only in ${first.path}: ${missing.join(', ')}` : '',
            extra.length ? `only in ${t.path}: ${extra.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join('; ') +
          ' (every file needs the same timestamp and feature columns)',
      );
    }
  }
}

interface TypeTable {
  names: string[];
  index: Map<string, number>;
}

function parseFile(
  table: CsvTable,
  role: ImportedFile['role'],
  sha256: string,
  layout: Layout,
  opts: Required<Pick<ImportOptions, 'nonNumeric' | 'emptyCells'>> & { normalLabels: Set<string> },
  clock: ZonedClock,
  types: TypeTable,
): ParsedFile {
  const n = table.rows.length;
  const where = (k: number, col: string) => `${table.path} row ${k + 1} (line ${table.lines[k]}), column "${col}"`;
  const tIdx = table.header.indexOf(layout.time);
  const lIdx = layout.label === null ? -1 : table.header.indexOf(layout.label);
  const needLabels = role !== 'normal';
  if (needLabels && lIdx < 0) {
    fail(
      layout.label === null
        ? `${table.path}: the ${role === 'test' ? 'test' : 'labelled'} file needs a label column to evaluate on; name it with --label-column (its columns: ${table.header.join(', ')}). Unlabelled data can be scored with \`faultline score\` once a model is trained`
        : `${table.path}: no label column "${layout.label}" (its columns: ${table.header.join(', ')}); name the right one with --label-column`,
    );
  }
  const fIdx = layout.features.map((f) => table.header.indexOf(f));
  const ts = new Float64Array(n);
  const values = layout.features.map(() => new Float64Array(n));
  const isAnomaly = new Uint8Array(n);
  const typeIdx = new Int16Array(n).fill(-1);
  const timeKinds = new Set<ParsedTime['kind']>();
  const nonNumeric: Record<string, number> = {};
  for (let k = 0; k < n; k++) {
    const row = table.rows[k]!;
    const t = parseTimestamp(row[tIdx]!, clock);
    if (typeof t === 'string') fail(`${where(k, layout.time)}: ${t}`);
    const pt = t as ParsedTime;
    ts[k] = pt.ms;
    timeKinds.add(pt.kind);
    if (lIdx >= 0) {
      const raw = row[lIdx]!.trim();
      if (raw === '') fail(`${where(k, layout.label!)}: empty label (every row needs one)`);
      if (!opts.normalLabels.has(raw.toLowerCase())) {
        isAnomaly[k] = 1;
        const name = /^(1|true|yes|1\.0)$/i.test(raw) ? 'anomaly' : raw.toLowerCase();
        let idx = types.index.get(name);
        if (idx === undefined) {
          if (types.names.length >= 32) fail(`${where(k, layout.label!)}: more than 32 distinct anomaly labels`);
          idx = types.names.length;
          types.names.push(name);
          types.index.set(name, idx);
        }
        typeIdx[k] = idx;
      }
    }
    for (let f = 0; f < fIdx.length; f++) {
      const cell = row[fIdx[f]!]!.trim();
      let v: number;
      if (EMPTY_TOKENS.has(cell)) v = NaN;
      else {
        v = Number(cell);
        if (!Number.isFinite(v)) {
          if (opts.nonNumeric === 'fail')
            fail(
              `${where(k, layout.features[f]!)}: "${cell}" is not a number (pass --non-numeric empty to treat such cells as empty)`,
            );
          v = NaN;
          nonNumeric[layout.features[f]!] = (nonNumeric[layout.features[f]!] ?? 0) + 1;
        }
      }
      if (Number.isNaN(v) && opts.emptyCells === 'fail')
        fail(`${where(k, layout.features[f]!)}: empty cell (pass --empty fill or --empty drop-rows)`);
      values[f]![k] = v;
    }
  }
  const rowNo = Int32Array.from({ length: n }, (_, k) => k + 1);
  const lineNo = Int32Array.from(table.lines);
  return {
    path: table.path,
    role,
    sha256,
    rowsRead: n,
    ts,
    values,
    isAnomaly,
    typeIdx,
    rowNo,
    lineNo,
    timeKinds,
    nonNumeric,
  };
}

/** Replaces every column of `p` by its rows at `idx`, in that order (all columns together). */
function gatherRows(p: ParsedFile, idx: readonly number[]): void {
  const pick = <T extends Float64Array | Uint8Array | Int16Array | Int32Array>(a: T): T => {
    const out = new (a.constructor as new (n: number) => T)(idx.length);
    idx.forEach((k, j) => (out[j] = a[k]!));
    return out;
  };
  p.ts = pick(p.ts);
  p.values = p.values.map(pick);
  p.isAnomaly = pick(p.isAnomaly);
  p.typeIdx = pick(p.typeIdx);
  p.rowNo = pick(p.rowNo);
  p.lineNo = pick(p.lineNo);
}

/** Keeps rows where keep[k] is true (all columns together). */
function keepRows(p: ParsedFile, keep: (k: number) => boolean): number {
  const n = p.ts.length;
  const idx: number[] = [];
  for (let k = 0; k < n; k++) if (keep(k)) idx.push(k);
  if (idx.length === n) return 0;
  gatherRows(p, idx);
  return n - idx.length;
}

/** Reorders rows by time (stable: equal times keep their file order). */
function sortRows(p: ParsedFile): void {
  gatherRows(
    p,
    Array.from(p.ts, (_, k) => k).sort((a, b) => p.ts[a]! - p.ts[b]! || a - b),
  );
}

const iso = (ms: number) => new Date(ms).toISOString();
const rowAt = (p: ParsedFile, k: number) => `row ${p.rowNo[k]} (line ${p.lineNo[k]})`;

/** Order and uniqueness of timestamps, by the chosen policies; returns the decisions' wording. */
function orderRows(p: ParsedFile, layout: Layout, opts: Required<Pick<ImportOptions, 'unsorted' | 'duplicates'>>) {
  let unsorted = 0;
  for (let k = 1; k < p.ts.length; k++) {
    if (p.ts[k]! < p.ts[k - 1]!) {
      if (opts.unsorted === 'fail') {
        fail(
          `${p.path} ${rowAt(p, k)}, column "${layout.time}": ${iso(p.ts[k]!)} is earlier than ${iso(p.ts[k - 1]!)} in ${rowAt(p, k - 1)}: ` +
            'timestamps are not sorted (pass --sort to sort the rows by time)',
        );
      }
      unsorted++;
    }
  }
  if (unsorted) sortRows(p);
  let dups = 0;
  for (let k = 1; k < p.ts.length; k++) {
    if (p.ts[k] === p.ts[k - 1]) {
      if (opts.duplicates === 'fail') {
        fail(
          `${p.path} ${rowAt(p, k)}, column "${layout.time}": timestamp ${iso(p.ts[k]!)} repeats ${rowAt(p, k - 1)} ` +
            '(pass --duplicates keep-first to keep the first row of each timestamp)',
        );
      }
      dups++;
    }
  }
  if (dups) keepRows(p, (k) => k === 0 || p.ts[k] !== p.ts[k - 1]);
  return { unsorted, dups };
}

/** Runs of empty cells per column: fill (short ones; long ones fail), drop the rows, or fail. */
function emptyCells(p: ParsedFile, layout: Layout, policy: EmptyCellPolicy, maxGapRows: number) {
  const byColumn: Record<string, number> = {};
  let dropped = 0;
  if (policy === 'drop-rows') {
    dropped = keepRows(p, (k) => p.values.every((v) => !Number.isNaN(v[k]!)));
    return { byColumn, dropped };
  }
  layout.features.forEach((name, f) => {
    const v = p.values[f]!;
    let count = 0;
    for (let k = 0; k < v.length; k++) {
      if (!Number.isNaN(v[k]!)) continue;
      let j = k;
      while (j < v.length && Number.isNaN(v[j]!)) j++;
      count += j - k;
      if (j - k === v.length)
        fail(`${p.path}, column "${name}": every cell is empty (drop the column with --ignore "${name}")`);
      if (j - k > maxGapRows) {
        fail(
          `${p.path} ${rowAt(p, k)} to ${rowAt(p, j - 1)}, column "${name}": ${j - k} empty cells in a row, more than --max-gap ${maxGapRows} ` +
            '(raise --max-gap, or pass --empty drop-rows to drop rows with empty cells)',
        );
      }
      k = j - 1;
    }
    if (count) byColumn[name] = count;
  });
  return { byColumn, dropped };
}

/** Every non-constant feature spans exactly [0, 1]: the file was min-max scaled on its own. */
function scaledOnItsOwn(p: ParsedFile): boolean {
  let spans = 0;
  for (const v of p.values) {
    let min = Infinity;
    let max = -Infinity;
    for (const x of v) {
      if (x < min) min = x;
      if (x > max) max = x;
    }
    if (!(max > min)) continue;
    if (min !== 0 || max !== 1) return false;
    spans++;
  }
  return spans > 0;
}

function constantValue(v: Float64Array): number | undefined {
  let first: number | undefined;
  for (const x of v) {
    if (Number.isNaN(x)) continue;
    if (first === undefined) first = x;
    else if (x !== first) return undefined;
  }
  return first;
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Imports the files into opts.outDir (atomically); returns what buildDatasetFromColumns returns. */
export async function importDataset(opts: ImportOptions): Promise<BuildResult> {
  const o = {
    ...IMPORT_DEFAULTS,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
  } as ImportOptions & Policies;
  const outDir = resolve(o.outDir);
  const inputs: Array<{ path: string; role: ImportedFile['role'] }> = o.labelled
    ? [{ path: o.labelled, role: 'labelled' }]
    : [
        {
          path:
            o.normal ??
            fail('give a normal file and a test file (--normal, --test), or one labelled file (--labelled)'),
          role: 'normal' as const,
        },
        {
          path:
            o.test ??
            fail('a normal file needs a labelled test file beside it (--test), or give one labelled file (--labelled)'),
          role: 'test' as const,
        },
      ];
  if (o.labelled && (o.normal || o.test)) fail('give either --labelled FILE or --normal FILE --test FILE, not both');
  if (!(o.trainFraction > 0 && o.trainFraction < 1))
    fail(`--train-fraction must be between 0 and 1, not ${o.trainFraction}`);
  if (!(Number.isInteger(o.maxGapRows) && o.maxGapRows >= 0))
    fail(`--max-gap must be a whole number of rows ≥ 0, not ${o.maxGapRows}`);
  if (existsSync(outDir) && !o.force)
    fail(`${outDir} already exists: choose another --out or pass --force to replace it`);
  const timezone = o.timezone ?? 'UTC';
  let clock: ZonedClock;
  try {
    clock = new ZonedClock(timezone);
  } catch (err) {
    return fail((err as Error).message);
  }

  const tables: CsvTable[] = [];
  const hashes: string[] = [];
  for (const { path } of inputs) {
    if (!existsSync(path)) fail(`${path}: no such file`);
    const buf = await readFile(path);
    hashes.push(createHash('sha256').update(buf).digest('hex'));
    tables.push(parseCsv(path, buf.toString('utf8')));
  }
  const layout = chooseLayout(tables[0]!, o);
  checkHeaders(tables, layout);

  const types: TypeTable = { names: [], index: new Map() };
  const normalLabels = new Set([...NORMAL_LABELS, ...(o.normalLabels ?? []).map((s) => s.toLowerCase())]);
  const decisions: ImportDecision[] = [];
  const warnings: string[] = [];
  const files: ParsedFile[] = [];
  const emptyByFile: string[] = [];
  const orderNotes: string[] = [];
  const dupNotes: string[] = [];
  const nonNumericByFile: string[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const p = parseFile(tables[i]!, inputs[i]!.role, hashes[i]!, layout, { ...o, normalLabels }, clock, types);
    tables[i] = undefined as never; // the text rows are no longer needed
    const nn = Object.entries(p.nonNumeric);
    if (nn.length) nonNumericByFile.push(`${p.path}: ${nn.map(([c, k]) => `${c} ${k}`).join(', ')}`);
    const { unsorted, dups } = orderRows(p, layout, o);
    if (unsorted) orderNotes.push(`${p.path}: ${plural(unsorted, 'row')} out of order, sorted by time`);
    if (dups) dupNotes.push(`${p.path}: ${plural(dups, 'row')} repeating an earlier timestamp dropped (first kept)`);
    const e = emptyCells(p, layout, o.emptyCells, o.maxGapRows);
    const cols = Object.entries(e.byColumn);
    if (cols.length) emptyByFile.push(`${p.path}: ${cols.map(([c, n]) => `${c} ${n}`).join(', ')}`);
    if (e.dropped) emptyByFile.push(`${p.path}: ${plural(e.dropped, 'row')} with empty cells dropped`);
    if (p.ts.length === 0) fail(`${p.path}: no data row left`);
    files.push(p);
  }

  // ---- decisions the card names, one per kind of problem (also when it did not occur)
  const kinds = new Set(files.flatMap((f) => [...f.timeKinds]));
  const naive = kinds.has('naive');
  decisions.push({
    issue: 'timestamps',
    decision:
      `column "${layout.time}": ` +
      [
        kinds.has('naive')
          ? `naive date-times read as wall-clock time in ${timezone}${o.timezone ? '' : ' (no --timezone given: UTC assumed)'}`
          : '',
        kinds.has('zoned') ? 'date-times with a zone read as given' : '',
        kinds.has('epoch-s') ? 'numbers below 1e11 read as epoch seconds' : '',
        kinds.has('epoch-ms') ? 'numbers from 1e11 up read as epoch milliseconds' : '',
      ]
        .filter(Boolean)
        .join('; '),
  });
  decisions.push({
    issue: 'empty-cells',
    decision:
      o.emptyCells === 'fill'
        ? emptyByFile.length
          ? `filled (runs of up to ${o.maxGapRows} rows: linear in time between the neighbours, nearest value at a split edge); empty cells per column — ${emptyByFile.join('; ')}`
          : 'none found (policy: fill runs of up to ' + o.maxGapRows + ' rows)'
        : o.emptyCells === 'drop-rows'
          ? emptyByFile.length
            ? emptyByFile.join('; ')
            : 'none found (policy: drop rows with an empty cell)'
          : 'none found (policy: fail on any empty cell)',
  });
  decisions.push({
    issue: 'non-numeric',
    decision: nonNumericByFile.length
      ? `read as empty cells (then the empty-cell decision applies) — ${nonNumericByFile.join('; ')}`
      : `none found (policy: ${o.nonNumeric === 'empty' ? 'read as empty' : 'fail'}; cells ${[...EMPTY_TOKENS].filter(Boolean).join(', ')} count as empty)`,
  });
  decisions.push({
    issue: 'unsorted',
    decision: orderNotes.length
      ? orderNotes.join('; ')
      : `none found (policy: ${o.unsorted === 'sort' ? 'sort by time' : 'fail'})`,
  });
  decisions.push({
    issue: 'duplicate-timestamps',
    decision: dupNotes.length
      ? dupNotes.join('; ')
      : `none found (policy: ${o.duplicates === 'keep-first' ? 'keep the first row' : 'fail'})`,
  });

  // ---- constant columns (over every file together; the cleaning step drops them)
  const constant: string[] = [];
  layout.features.forEach((name, f) => {
    const vals = files.map((p) => constantValue(p.values[f]!));
    const c = vals[0];
    if (c !== undefined && vals.every((v) => v === c)) constant.push(`${name} (always ${c})`);
    else if (files[0]!.role === 'normal' && vals[0] !== undefined)
      warnings.push(
        `column ${name} is constant (${vals[0]}) in the normal file ${files[0]!.path} but not in the test file: the scaler keeps its offset with scale 1, so any change there counts as anomalous`,
      );
  });
  if (constant.length && o.constantColumns === 'fail') {
    fail(
      `${inputs.map((i) => i.path).join(' and ')}: constant column${constant.length > 1 ? 's' : ''} ${constant.join(', ')} in every row ` +
        '(pass --constant drop to drop them, or leave them out with --ignore)',
    );
  }
  decisions.push({
    issue: 'constant-columns',
    decision: constant.length ? `dropped: ${constant.join(', ')}` : 'none found (policy: drop)',
  });

  // ---- per-file scaling
  const scaled = files.map(scaledOnItsOwn);
  if (scaled.some(Boolean)) {
    const which = files.filter((_, i) => scaled[i]).map((f) => f.path);
    warnings.push(
      files.length > 1
        ? `${which.join(' and ')} ${which.length > 1 ? 'were each' : 'was'} min-max scaled on ${which.length > 1 ? 'their' : 'its'} own (every column spans exactly [0, 1]): ` +
            'the files are not on one scale and the original units are lost; this cannot be undone, so the training scaler maps the normal file’s own [0, 1] and test values are only comparable up to that per-file scaling'
        : `${which[0]} was min-max scaled as a whole (every column spans exactly [0, 1]): the scaling saw the test part too, and the original units are lost`,
    );
  }
  decisions.push({
    issue: 'scaling',
    decision: `one ${o.config.scaler} scaler fit on the normal points of the training split and applied to every split${scaled.some(Boolean) ? ' (on top of the files’ own scaling, which cannot be undone)' : ''}`,
  });

  // ---- concatenate: normal (baseline) then test (chaos), or one file split in time
  const total = files.reduce((a, p) => a + p.ts.length, 0);
  const shared = (n: number) => new Float64Array(new SharedArrayBuffer(n * 8));
  const ts = shared(total);
  const cols = new Map(layout.features.map((name) => [name, shared(total)]));
  const isAnomaly = new Uint8Array(total);
  const typeMask = new Uint32Array(total);
  let at = 0;
  for (const p of files) {
    ts.set(p.ts, at);
    layout.features.forEach((name, f) => cols.get(name)!.set(p.values[f]!, at));
    isAnomaly.set(p.isAnomaly, at);
    for (let k = 0; k < p.ts.length; k++) if (p.typeIdx[k]! >= 0) typeMask[at + k] = 1 << p.typeIdx[k]!;
    at += p.ts.length;
  }
  const segments =
    files.length === 2
      ? [
          { name: 'baseline', from: 0, to: files[0]!.ts.length },
          { name: 'chaos', from: files[0]!.ts.length, to: total },
        ]
      : [
          { name: 'baseline', from: 0, to: Math.round(total * o.trainFraction) },
          { name: 'chaos', from: Math.round(total * o.trainFraction), to: total },
        ];
  const diffs: number[] = [];
  for (const p of files) for (let k = 1; k < p.ts.length; k++) diffs.push(p.ts[k]! - p.ts[k - 1]!);
  const stepMs = median(diffs) || 1000;
  const gaps = diffs.filter((d) => d > 5 * stepMs);
  decisions.push({
    issue: 'time-gaps',
    decision: gaps.length
      ? `${plural(gaps.length, 'gap')} longer than 5 steps (${stepMs} ms median step; longest ${(Math.max(...gaps) / 60_000).toFixed(1)} min) kept as they are: windows are made of consecutive rows and may span them, as in the reference experiment`
      : `none (median step ${stepMs} ms)`,
  });
  if (files.length === 2) {
    const [a, b] = files as [ParsedFile, ParsedFile];
    if (b.ts[0]! <= a.ts[a.ts.length - 1]! && a.ts[0]! <= b.ts[b.ts.length - 1]!)
      warnings.push(`${a.path} and ${b.path} overlap in time: they are used as separate series (normal, then test)`);
  }
  const counts: Record<string, number> = {};
  for (const p of files) {
    for (let k = 0; k < p.ts.length; k++) {
      const name = p.typeIdx[k]! >= 0 ? types.names[p.typeIdx[k]!]! : 'normal';
      counts[name] = (counts[name] ?? 0) + 1;
    }
  }
  decisions.push({
    issue: 'labels',
    decision:
      layout.label === null
        ? 'no label column: every row of the normal file is normal'
        : `column "${layout.label}": ${Object.entries(counts)
            .map(([k, v]) => `${k} ${v}`)
            .join(
              ', ',
            )} rows (values ${[...normalLabels].join(', ')} are normal, any other value anomalous); windows labelled by the "${o.config.windowLabel}" rule`,
  });
  const normalInNormal = files[0]!.role === 'normal' ? files[0]!.isAnomaly.reduce((a, b) => a + b, 0) : 0;
  if (normalInNormal)
    warnings.push(
      `${files[0]!.path} (the normal file) has ${normalInNormal} anomalous rows: they are kept out of the scaler fit and of training`,
    );

  const base = segments[0]!;
  let trainNormal = 0;
  const trainEnd = base.from + Math.round((base.to - base.from) * (1 - o.config.valFraction));
  for (let i = base.from; i < trainEnd; i++) trainNormal += isAnomaly[i] ? 0 : 1;
  if (trainNormal === 0)
    fail(
      files.length === 1
        ? `${files[0]!.path}: no normal row in the training part (the first ${Math.round(o.trainFraction * 100)} % of rows, less validation); raise --train-fraction or reorder the file`
        : `${files[0]!.path}: no normal row to train on`,
    );

  let runs = 0;
  for (let i = 0; i < total; i++) if (isAnomaly[i] && (i === 0 || !isAnomaly[i - 1])) runs++;
  const importedFiles: ImportedFile[] = files.map((p, i) => ({
    path: resolve(p.path),
    role: p.role,
    sha256: p.sha256,
    rows: p.rowsRead,
    rowsKept: p.ts.length,
    firstMs: p.ts.length ? p.ts[0]! : null,
    lastMs: p.ts.length ? p.ts[p.ts.length - 1]! : null,
    scaledOnItsOwn: scaled[i]!,
  }));
  const info: ImportInfo = {
    format: layout.format,
    files: importedFiles,
    timestampColumn: layout.time,
    labelColumn: layout.label,
    timezone: {
      name: timezone,
      naive,
      note: naive
        ? o.timezone
          ? `naive timestamps read as ${timezone} wall-clock time`
          : 'naive timestamps read as UTC (no --timezone given)'
        : 'every timestamp carried its zone or was an epoch number',
    },
    decisions,
    warnings,
  };
  const data: Loaded = {
    ts,
    names: [...layout.features],
    cols,
    segments,
    featureMeta: layout.features.map((name) => ({
      name,
      query: `${layout.format === 'reference' ? 'reference CSV' : 'CSV'} column ${name}`,
      unit: scaled.some(Boolean) ? 'scaled per file to [0, 1]' : '',
    })),
    stepMs,
    ignoredPhases: [],
  };
  const labelling: DatasetCard['labelling'] = {
    rule: layout.label === null ? 'no labels' : `from the label column "${layout.label}" of the files (per row)`,
    marginMs: 0,
    faultLog: null,
    faults: { applied: runs, ignored: 0, reachingOutsideChaos: 0 },
    windowLabel: o.config.windowLabel,
  };

  // ---- write into a temporary directory beside the target; rename it into place at the end
  await mkdir(dirname(outDir), { recursive: true });
  const tmp = join(dirname(outDir), `.${basename(outDir)}.import-${process.pid}-${Date.now().toString(36)}`);
  try {
    const configHash = createHash('sha256')
      .update(
        JSON.stringify({
          hashes,
          layout,
          timezone,
          config: o.config,
          policies: [
            o.emptyCells,
            o.maxGapRows,
            o.unsorted,
            o.duplicates,
            o.nonNumeric,
            o.constantColumns,
            o.trainFraction,
          ],
        }),
      )
      .digest('hex')
      .slice(0, 16);
    const res = await buildDatasetFromColumns({
      campaignId: `import-${basename(outDir)}`,
      configHash,
      outDir: tmp,
      config: o.config,
      csv: o.csv,
      data,
      labels: { isAnomaly, typeMask, types: types.names },
      labelling,
      maxGapPoints: o.maxGapRows,
      imported: info,
    });
    if (existsSync(outDir)) {
      const trash = `${tmp}.old`;
      await rename(outDir, trash);
      await rename(tmp, outDir);
      await rm(trash, { recursive: true, force: true });
    } else {
      await rename(tmp, outDir);
    }
    return { ...res, dir: outDir, cardPath: join(outDir, 'card.json') };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

export interface ScoringFile {
  path: string;
  layout: Layout;
  ts: Float64Array;
  /** model feature → values in the file's units, empty cells filled */
  cols: Map<string, Float64Array>;
  /** per row, when the file has a label column */
  isAnomaly: Uint8Array | null;
  /** columns of the file the model does not use */
  unused: string[];
  filled: Record<string, number>;
  droppedRows: number;
}

/**
 * Reads new data for an already trained model: the model's feature columns (by name; others are
 * ignored), the timestamp and, when present, a label column, under the same policies as an import.
 * Missing model features fail with the whole list; empty cells are filled as the import fills them.
 */
export async function readScoringFile(
  path: string,
  modelFeatures: string[],
  opts: Partial<Omit<ImportOptions, 'features' | 'config' | 'outDir'>> = {},
): Promise<ScoringFile> {
  const o = {
    ...IMPORT_DEFAULTS,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
  } as ImportOptions & Policies;
  if (!existsSync(path)) fail(`${path}: no such file`);
  const clock = new ZonedClock(o.timezone ?? 'UTC');
  const table = parseCsv(path, await readFile(path, 'utf8'));
  const missing = modelFeatures.filter((f) => !table.header.includes(f));
  if (missing.length) {
    fail(
      `${path}: the model's feature column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} ` +
        `${missing.length > 1 ? 'are' : 'is'} missing (the model was trained on ${modelFeatures.join(', ')}; the file has ${table.header.join(', ')})`,
    );
  }
  const layout = chooseLayout(table, { ...o, features: modelFeatures, config: undefined as never, outDir: '' });
  if (layout.label !== null && !table.header.includes(layout.label)) layout.label = null;
  const unused = table.header.filter((c) => c !== layout.time && c !== layout.label && !modelFeatures.includes(c));
  const normalLabels = new Set([...NORMAL_LABELS, ...(o.normalLabels ?? []).map((s) => s.toLowerCase())]);
  const p = parseFile(table, 'normal', '', layout, { ...o, normalLabels }, clock, { names: [], index: new Map() });
  orderRows(p, layout, o);
  const e = emptyCells(p, layout, o.emptyCells, o.maxGapRows);
  if (p.ts.length === 0) fail(`${path}: no data row left`);
  const cols = new Map<string, Float64Array>();
  layout.features.forEach((name, f) => {
    const v = p.values[f]!;
    fillGaps(p.ts, v);
    cols.set(name, v);
  });
  return {
    path,
    layout,
    ts: p.ts,
    cols,
    isAnomaly: layout.label === null ? null : p.isAnomaly,
    unused,
    filled: e.byColumn,
    droppedRows: e.dropped,
  };
}

/** Fills every run of NaN: linear in time between the neighbours, the nearest value at either end. */
function fillGaps(ts: Float64Array, v: Float64Array): void {
  const n = v.length;
  for (let i = 0; i < n; i++) {
    if (!Number.isNaN(v[i]!)) continue;
    let j = i;
    while (j < n && Number.isNaN(v[j]!)) j++;
    if (i === 0 || j === n) {
      const value = i === 0 ? v[j]! : v[i - 1]!;
      for (let k = i; k < j; k++) v[k] = value;
    } else {
      const t0 = ts[i - 1]!;
      const y0 = v[i - 1]!;
      const slope = (v[j]! - y0) / (ts[j]! - t0);
      for (let k = i; k < j; k++) v[k] = y0 + slope * (ts[k]! - t0);
    }
    i = j - 1;
  }
}
