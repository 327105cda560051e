import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createTrainingActivities } from '../activities/model/training-index';
import type { DatasetCard } from '../activities/dataset/card';
import { readNpyAs } from '../activities/dataset/npy';
import { campaignDir } from '../infra/home';
import { ConfigError, parseCampaignConfig } from '../schemas/campaign';
import { parseTimestamp, ZonedClock } from '../activities/dataset/timestamps';
import { temporalBinary } from '../infra/temporal/dev-server';
import { main as cli } from '../cli/program';
import { TASK_QUEUE, TRAINING_TASK_QUEUE } from '../workflows/messages';
import { IMPORTED_DATASET_PATCH } from '../workflows/campaign';
import { REFERENCE_HEADER, referenceCsv, type ReferenceRun } from './fixtures/reference-csv';
import { getTestTemporal, getWorkflowBundle, uniqueId } from './helpers/temporal';

const PYTHON = process.env.FAULTLINE_PYTHON ?? '/usr/bin/python3';
/** 17:00 local on the reference's attack day; naive in the files (the experiment ran in Asia/Taipei, UTC+8). */
const DAY = Date.UTC(2025, 5, 6, 17, 0, 0);
const NORMAL: ReferenceRun = { startLocalMs: DAY - 86_400_000, rows: 400, seed: 1 };
const ATTACK: ReferenceRun = {
  startLocalMs: DAY,
  rows: 200,
  attack: [[0, 200]],
  emptyCpu: [40, 41, 90, 150, 151, 152],
  seed: 2,
};
/** the 30 min of normal rows from another evening appended to the attack file, scaled on their own run */
const LATE_NORMAL: ReferenceRun = { startLocalMs: DAY + 5 * 3_600_000, rows: 60, seed: 3 };

/** Runs the CLI in-process; returns its exit code and what it printed. */
async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  try {
    const code = await cli(['node', 'faultline', ...args]);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** A reference CSV as rows of cells, to break on purpose. */
function cells(text: string): string[][] {
  return text
    .trim()
    .split('\n')
    .map((l) => l.split(','));
}
const text = (rows: string[][]) => rows.map((r) => r.join(',')).join('\n') + '\n';

describe('dataset import (CSV files → the trainer’s dataset layout)', function () {
  this.timeout(60_000);
  let root: string;
  let normal: string;
  let attack: string;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'fl-import-'));
    normal = join(root, 'normal0.csv');
    attack = join(root, 'attack0.csv');
    writeFileSync(normal, referenceCsv(NORMAL));
    writeFileSync(attack, referenceCsv(ATTACK, LATE_NORMAL));
  });
  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('reads the reference experiment’s CSV pair and names every decision and warning in the card', async () => {
    const out = join(root, 'ref');
    const r = await run('dataset', 'import', normal, attack, '-o', out, '--timezone', 'Asia/Taipei');
    assert.equal(r.code, 0, r.err);
    const card = JSON.parse(readFileSync(join(out, 'card.json'), 'utf8')) as DatasetCard;
    const imp = card.import!;
    assert.equal(imp.format, 'reference');
    assert.equal(imp.timestampColumn, 'window_start');
    assert.equal(imp.labelColumn, 'Normal/Attack');
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'features.json'), 'utf8')), REFERENCE_HEADER.slice(3));
    // naive 17:00 in Asia/Taipei is 09:00 UTC
    assert.equal(imp.timezone.name, 'Asia/Taipei');
    assert.equal(imp.timezone.naive, true);
    assert.equal(imp.files[1]!.firstMs, Date.UTC(2025, 5, 6, 9, 0, 0));
    // both files were min-max scaled on their own: detected, and warned about
    assert.deepEqual(
      imp.files.map((f) => [f.role, f.rows, f.scaledOnItsOwn]),
      [
        ['normal', 400, true],
        ['test', 260, true],
      ],
    );
    assert.match(imp.warnings.join('\n'), /each min-max scaled on their own.*cannot be undone/);
    const decision = (issue: string) => imp.decisions.find((d) => d.issue === issue)?.decision ?? '';
    assert.match(decision('empty-cells'), /attack0\.csv: cpu_util 6/);
    assert.match(decision('timestamps'), /naive date-times read as wall-clock time in Asia\/Taipei/);
    assert.match(decision('labels'), /normal 460, attack 200 rows/);
    assert.match(decision('time-gaps'), /1 gap longer than 5 steps/);
    for (const issue of ['non-numeric', 'unsorted', 'duplicate-timestamps', 'constant-columns'])
      assert.match(decision(issue), /none found/, issue);
    assert.deepEqual(card.cleaning.filled, [{ name: 'cpu_util', gaps: 3, points: 6, edgePoints: 0 }]);
    // the trainer's layout: scaled windows per split, labels, the scaler fit on the normal training rows
    const test = await readNpyAs(join(out, 'test.npy'), 'float32');
    assert.deepEqual(test.shape.slice(1), [12, 10]);
    assert.ok(card.splits.test.windows.anomalous > 0 && card.splits.test.windows.normal > 0, 'both classes in test');
    assert.equal(card.splits.train.windows.anomalous, 0);
    assert.equal(card.scaler.fit.points, 320);
    assert.match(readFileSync(join(out, 'card.md'), 'utf8'), /### Warnings[\s\S]*scaled on their own/);
    assert.match(r.out, /WARNING: .*scaled on their own/);
  });

  it('says in the card that naive timestamps were read as UTC when no timezone is given', async () => {
    const out = join(root, 'utc');
    assert.equal((await run('dataset', 'import', normal, attack, '-o', out, '--no-csv')).code, 0);
    const card = JSON.parse(readFileSync(join(out, 'card.json'), 'utf8')) as DatasetCard;
    assert.equal(card.import!.timezone.name, 'UTC');
    assert.match(card.import!.timezone.note, /naive timestamps read as UTC \(no --timezone given\)/);
    assert.equal(card.import!.files[1]!.firstMs, DAY);
  });

  it('drops a constant column and names it in the card; with --constant fail it is an error', async () => {
    const rows = (f: string) =>
      cells(readFileSync(f, 'utf8')).map((r, i) => (i === 0 ? r : r.map((c, j) => (j === 12 ? '0.5' : c))));
    const n = join(root, 'const-normal.csv');
    const a = join(root, 'const-attack.csv');
    writeFileSync(n, text(rows(normal)));
    writeFileSync(a, text(rows(attack)));
    const out = join(root, 'const');
    assert.equal((await run('dataset', 'import', n, a, '-o', out)).code, 0);
    const card = JSON.parse(readFileSync(join(out, 'card.json'), 'utf8')) as DatasetCard;
    assert.match(
      card.import!.decisions.find((d) => d.issue === 'constant-columns')!.decision,
      /dropped: fs_util \(always 0\.5\)/,
    );
    assert.deepEqual(
      card.cleaning.dropped.map((d) => [d.name, d.reason]),
      [['fs_util', 'constant']],
    );
    assert.ok(!card.scaler.features.includes('fs_util'));
    await refused(
      ['dataset', 'import', n, a, '--constant', 'fail'],
      /constant column fs_util \(always 0\.5\) in every row/,
    );
  });

  it('sorts unsorted rows only when asked, and says so in the card', async () => {
    const rows = cells(readFileSync(normal, 'utf8'));
    [rows[11], rows[10]] = [rows[10]!, rows[11]!];
    const n = join(root, 'unsorted-sorted.csv');
    writeFileSync(n, text(rows));
    const out = join(root, 'sorted');
    assert.equal((await run('dataset', 'import', n, attack, '-o', out, '--sort')).code, 0);
    const card = JSON.parse(readFileSync(join(out, 'card.json'), 'utf8')) as DatasetCard;
    assert.match(
      card.import!.decisions.find((d) => d.issue === 'unsorted')!.decision,
      /1 row out of order, sorted by time/,
    );
  });

  /** Every malformed input: a clear error naming file, row and column, and nothing written. */
  const listing = () => readdirSync(root).sort();
  async function refused(args: string[], message: RegExp): Promise<void> {
    const before = listing();
    const out = join(root, `bad-${uniqueId('x')}`);
    const r = await run(...args, '-o', out);
    assert.equal(r.code, 2, `exit code (stderr: ${r.err})`);
    assert.match(r.err, message);
    assert.ok(!existsSync(out), 'no output directory');
    assert.deepEqual(listing(), before, 'nothing half-written beside it');
  }
  /** The attack file with one change (rows counted from the header = 0). */
  function brokenAttack(name: string, edit: (rows: string[][]) => void): string {
    const rows = cells(readFileSync(attack, 'utf8'));
    edit(rows);
    const path = join(root, name);
    writeFileSync(path, text(rows));
    return path;
  }

  it('refuses a run of empty cells longer than --max-gap, naming file, rows and column', async () => {
    const bad = brokenAttack('gap.csv', (rows) => {
      for (let i = 100; i < 105; i++) rows[i]![6] = '';
    });
    await refused(
      ['dataset', 'import', normal, bad],
      /gap\.csv row 100 \(line 101\) to row 104 \(line 105\), column "cpu_util": 5 empty cells in a row, more than --max-gap 3/,
    );
  });

  it('refuses any empty cell under --empty fail', async () => {
    await refused(
      ['dataset', 'import', normal, attack, '--empty', 'fail'],
      /attack0\.csv row 41 \(line 42\), column "cpu_util": empty cell/,
    );
  });

  it('refuses unsorted timestamps', async () => {
    const bad = brokenAttack('unsorted.csv', (rows) => void ([rows[21], rows[20]] = [rows[20]!, rows[21]!]));
    await refused(
      ['dataset', 'import', normal, bad],
      /unsorted\.csv row 21 \(line 22\), column "window_start": 2025-06-06T17:03:10\.000Z is earlier than 2025-06-06T17:03:20\.000Z in row 20 \(line 21\): timestamps are not sorted/,
    );
  });

  it('refuses duplicate timestamps', async () => {
    const bad = brokenAttack('dup.csv', (rows) => void (rows[31]![0] = rows[30]![0]!));
    await refused(
      ['dataset', 'import', normal, bad],
      /dup\.csv row 31 \(line 32\), column "window_start": timestamp 2025-06-06T17:04:50\.000Z repeats row 30 \(line 31\)/,
    );
  });

  it('refuses a non-numeric value', async () => {
    const bad = brokenAttack('text.csv', (rows) => void (rows[7]![8] = 'n/a?'));
    await refused(
      ['dataset', 'import', normal, bad],
      /text\.csv row 7 \(line 8\), column "disk_read_mbps": "n\/a\?" is not a number/,
    );
    // or, when asked, reads it as an empty cell and says so in the card
    const out = join(root, 'nonnumeric');
    assert.equal((await run('dataset', 'import', normal, bad, '-o', out, '--non-numeric', 'empty')).code, 0);
    const card = JSON.parse(readFileSync(join(out, 'card.json'), 'utf8')) as DatasetCard;
    assert.match(
      card.import!.decisions.find((d) => d.issue === 'non-numeric')!.decision,
      /read as empty cells .*text\.csv: disk_read_mbps 1/,
    );
  });

  it('refuses a test file without the label column', async () => {
    const bad = brokenAttack('nolabel.csv', (rows) => rows.forEach((r) => r.splice(2, 1)));
    // without Normal/Attack the header is no longer the reference layout, so name the columns
    await refused(
      [
        'dataset',
        'import',
        normal,
        bad,
        '--format',
        'generic',
        '--timestamp-column',
        'window_start',
        '--label-column',
        'Normal/Attack',
        '--ignore',
        'window_end',
      ],
      /nolabel\.csv: no label column "Normal\/Attack" \(its columns: window_start, window_end, node_load1\{\}/,
    );
  });

  it('refuses files whose headers do not match', async () => {
    const bad = brokenAttack('other-header.csv', (rows) => void (rows[0]![10] = 'net_rx_kbps'));
    await refused(
      ['dataset', 'import', normal, bad],
      /other-header\.csv: no column "net_rx_mbps" \(its header: .*net_rx_kbps/,
    );
    const extra = brokenAttack('extra.csv', (rows) => rows.forEach((r, i) => r.push(i === 0 ? 'gpu_util' : '0.1')));
    await refused(
      ['dataset', 'import', normal, extra, '--features', REFERENCE_HEADER.slice(3).join(',')],
      /the headers of .*normal0\.csv and .*extra\.csv do not match: only in .*extra\.csv: gpu_util/,
    );
  });

  it('a failed import with --force leaves the existing dataset as it was', async () => {
    const out = join(root, 'ref');
    const before = readFileSync(join(out, 'card.json'), 'utf8');
    const bad = brokenAttack('text2.csv', (rows) => void (rows[3]![4] = 'x'));
    const r = await run('dataset', 'import', normal, bad, '-o', out, '--force');
    assert.equal(r.code, 2);
    assert.equal(readFileSync(join(out, 'card.json'), 'utf8'), before);
    assert.deepEqual(
      readdirSync(root).filter((f) => f.startsWith('.')),
      [],
      'no temporary directory left',
    );
  });

  it('reads a generic CSV: epoch or zoned timestamps, 0/1 labels, columns found by name', async () => {
    const lines = ['timestamp,rps,p95_ms,label'];
    for (let i = 0; i < 300; i++) {
      const t = Date.UTC(2025, 0, 1) + i * 1000;
      const anomalous = i >= 220 && i < 240;
      // half the rows as epoch milliseconds, half as ISO text with an offset: the same instants
      const ts = i % 2 ? String(t) : new Date(t + 3_600_000).toISOString().replace('Z', '+01:00');
      lines.push(`${ts},${50 + 10 * Math.sin(i / 9) + (anomalous ? 40 : 0)},${120 + (i % 7)},${anomalous ? 1 : 0}`);
    }
    const f = join(root, 'generic.csv');
    writeFileSync(f, lines.join('\r\n') + '\r\n');
    const out = join(root, 'generic');
    const r = await run('dataset', 'import', f, '-o', out);
    assert.equal(r.code, 0, r.err);
    const card = JSON.parse(readFileSync(join(out, 'card.json'), 'utf8')) as DatasetCard;
    assert.equal(card.import!.format, 'generic');
    assert.equal(card.import!.labelColumn, 'label');
    assert.equal(card.stepMs, 1000);
    assert.equal(card.import!.files[0]!.firstMs, Date.UTC(2025, 0, 1));
    assert.equal(card.import!.timezone.naive, false);
    assert.match(
      card.import!.decisions.find((d) => d.issue === 'timestamps')!.decision,
      /date-times with a zone read as given; numbers from 1e11 up read as epoch milliseconds/,
    );
    assert.match(card.import!.decisions.find((d) => d.issue === 'labels')!.decision, /normal 280, anomaly 20 rows/);
  });

  it('refuses a naive time that a daylight-saving change skipped, and reads a repeated one as its first occurrence', async () => {
    const f = (rows: string[]) => {
      const path = join(root, `dst-${uniqueId('f')}.csv`);
      writeFileSync(path, ['time,x,label', ...rows.map((t, i) => `${t},${i % 3},${i === 3 ? 1 : 0}`)].join('\n'));
      return path;
    };
    const skipped = f(['2025-03-30 01:58:00', '2025-03-30 01:59:00', '2025-03-30 02:30:00', '2025-03-30 03:31:00']);
    await refused(
      ['dataset', 'import', skipped, '--timezone', 'Europe/Berlin'],
      /row 3 \(line 4\), column "time": "2025-03-30 02:30:00" does not exist in Europe\/Berlin/,
    );
    await refused(['dataset', 'import', skipped, '--timezone', 'Mars/Olympus'], /unknown timezone "Mars\/Olympus"/);
    // 02:30 happens twice on 2025-10-26 in Berlin: first at +02:00 (00:30 UTC), then at +01:00
    const berlin = new ZonedClock('Europe/Berlin');
    assert.deepEqual(parseTimestamp('2025-10-26 02:30:00', berlin), {
      ms: Date.UTC(2025, 9, 26, 0, 30),
      kind: 'naive',
    });
    assert.deepEqual(parseTimestamp('2025-10-26 03:30:00', berlin), {
      ms: Date.UTC(2025, 9, 26, 2, 30),
      kind: 'naive',
    });
    assert.deepEqual(parseTimestamp('2025-07-01 12:00:00', berlin), { ms: Date.UTC(2025, 6, 1, 10), kind: 'naive' });
  });

  it('a campaign on an imported dataset runs only the data phases (the config says so otherwise)', () => {
    assert.throws(
      () => parseCampaignConfig({ name: 'x', importedDataset: '/data/ds' }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /phases: with importedDataset only the data phases run: .*\(not deploy, warmup, baseline, chaos, collect\)/.test(
          e.message,
        ),
    );
    const ok = parseCampaignConfig({
      name: 'x',
      importedDataset: '/data/ds',
      phases: ['dataset', 'train', 'evaluate', 'report'],
    });
    assert.equal(ok.importedDataset, '/data/ds');
  });

  it('one labelled file: split in time, anomalies kept out of training', async () => {
    const rows = cells(
      referenceCsv({
        ...NORMAL,
        attack: [
          [60, 80],
          [300, 340],
        ],
      }),
    );
    const f = join(root, 'one.csv');
    writeFileSync(f, text(rows));
    const out = join(root, 'one');
    const r = await run('dataset', 'import', f, '-o', out, '--train-fraction', '0.6');
    assert.equal(r.code, 0, r.err);
    const card = JSON.parse(readFileSync(join(out, 'card.json'), 'utf8')) as DatasetCard;
    assert.equal(card.import!.files[0]!.role, 'labelled');
    assert.equal(card.phases[0]!.points, 240);
    assert.ok(card.splits.train.windows.anomalous > 0, 'labelled anomalies inside the training part are labelled');
    assert.ok(card.splits.test.windows.anomalous > 0);
    // the scaler saw only normal training rows: 192 training rows less the 20 anomalous ones
    assert.equal(card.scaler.fit.points, 172);
    assert.match(card.import!.warnings.join('\n'), /was min-max scaled as a whole/);
  });
});

describe('imported data through Temporal: train → evaluate → report, then scoring new data', function () {
  this.timeout(600_000);
  let root: string;
  let home: string;
  let dataset: string;
  let runDir: string;
  let workers: Worker[] = [];
  let running: Promise<unknown> | undefined;
  let address = '';
  let namespace = '';

  before(async function () {
    if (!existsSync(PYTHON)) this.skip();
    this.timeout(240_000);
    root = mkdtempSync(join(tmpdir(), 'fl-import-run-'));
    home = join(root, 'home');
    mkdirSync(home);
    writeFileSync(join(root, 'normal0.csv'), referenceCsv(NORMAL));
    writeFileSync(join(root, 'attack0.csv'), referenceCsv(ATTACK, LATE_NORMAL));
    dataset = join(root, 'dataset');
    const r = await run(
      'dataset',
      'import',
      join(root, 'normal0.csv'),
      join(root, 'attack0.csv'),
      '-o',
      dataset,
      '--timezone',
      'Asia/Taipei',
    );
    assert.equal(r.code, 0, r.err);
    const t = await getTestTemporal();
    address = t.address;
    namespace = t.namespace;
    // the real workers: workflows + CPU activities on `faultline`, the PyTorch trainer on `faultline-training`
    workers = [
      await Worker.create({
        connection: t.nativeConnection,
        namespace,
        taskQueue: TASK_QUEUE,
        workflowBundle: await getWorkflowBundle(),
        activities: createActivities({ home }),
      }),
      await Worker.create({
        connection: t.nativeConnection,
        namespace,
        taskQueue: TRAINING_TASK_QUEUE,
        activities: createTrainingActivities({ python: PYTHON }),
      }),
    ];
    running = Promise.all(workers.map((w) => w.run()));
  });

  after(async () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('trains and evaluates on the imported dataset and writes the same HTML report', async () => {
    const id = uniqueId('imported');
    const r = await run(
      '--address',
      address,
      '--namespace',
      namespace,
      'dataset',
      'train',
      dataset,
      '--id',
      id,
      '--epochs',
      '3',
    );
    assert.equal(r.code, 0, `${r.out}\n${r.err}`);
    runDir = campaignDir(home, id);
    assert.match(r.out, new RegExp(`campaign ${id}: completed`));
    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(config.importedDataset, dataset);
    assert.deepEqual(config.phases, ['dataset', 'train', 'evaluate', 'report']);
    // the dataset was adopted whole; the model came from the training pool
    assert.equal(
      readFileSync(join(runDir, 'dataset', 'scaler.json'), 'utf8'),
      readFileSync(join(dataset, 'scaler.json'), 'utf8'),
    );
    const history = readFileSync(join(runDir, 'model', 'history.jsonl'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(history.length, 3);
    const results = JSON.parse(readFileSync(join(runDir, 'results', 'results.json'), 'utf8')) as {
      usad: { rocAuc: number; threshold: number };
      windows: { test: number; testAnomalous: number };
    };
    assert.ok(results.usad.rocAuc >= 0 && results.usad.rocAuc <= 1, `ROC-AUC ${results.usad.rocAuc}`);
    assert.ok(results.windows.testAnomalous > 0 && results.windows.testAnomalous < results.windows.test);
    const html = readFileSync(join(runDir, 'report', 'report.html'), 'utf8');
    assert.match(html, /imported from/);
    assert.match(html, /scaled on their own/);
    // no chaos phase ran: the summary says the data was imported instead of "Faults injected 0"
    assert.match(html, /labels from the files, no faults injected/);
    assert.doesNotMatch(html, /Faults injected/);
    assert.match(html, /ROC-AUC/);
    // the workflow took the patched branch (old histories replay without it)
    const t = await getTestTemporal();
    const events = (await t.client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const markers = events
      .filter((e) => e.markerRecordedEventAttributes)
      .map((e) => {
        const a = e.markerRecordedEventAttributes!;
        const data = Object.values(a.details ?? {}).flatMap((d) =>
          (d.payloads ?? []).map((p) => Buffer.from(p.data ?? []).toString('utf8')),
        );
        return `${a.markerName}: ${data.join(' ')}`;
      });
    assert.ok(
      markers.some((m) => m.includes(IMPORTED_DATASET_PATCH)),
      `patch marker ${IMPORTED_DATASET_PATCH} recorded: ${markers.join(' ')}`,
    );
    if (process.env.RECORD_HISTORIES === '1') {
      const json = execFileSync(
        temporalBinary(),
        ['workflow', 'show', '--address', address, '--workflow-id', id, '--output', 'json'],
        { encoding: 'utf8' },
      );
      writeFileSync(
        join(__dirname, '..', '..', 'test', 'fixtures', 'histories', 'campaign-imported-dataset.json'),
        json,
      );
    }
  });

  it('scores new data with the trained model exactly as the evaluation scored the same rows', async () => {
    assert.ok(runDir, 'the training test ran');
    const out = join(root, 'attack0.scores.csv');
    // (no --timezone: new data in the imported format is read as the import read it, Asia/Taipei)
    const r = await run('score', join(root, 'attack0.csv'), '--model', runDir, '-o', out);
    assert.equal(r.code, 0, r.err);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines[0], 'window_start,window_end,score,alarm,label');
    assert.equal(lines.length - 1, 260 - 12 + 1);
    const rows = lines.slice(1).map((l) => l.split(','));
    // the test split's windows start where the card says; their USAD scores are in results/scores-usad.npy
    const card = JSON.parse(readFileSync(join(runDir, 'dataset', 'card.json'), 'utf8')) as DatasetCard;
    const start = new Date(card.splits.test.ranges[0]!.startMs!).toISOString();
    const at = rows.findIndex((c) => c[0] === start);
    assert.ok(at > 0, `a window starts at ${start}`);
    const evaluated = (await readNpyAs(join(runDir, 'results', 'scores-usad.npy'), 'float64')).data;
    assert.equal(rows.length - at, evaluated.length);
    evaluated.forEach((s, k) => {
      const mine = Number(rows[at + k]![2]);
      assert.ok(Math.abs(mine - s) <= 1e-6 * Math.max(1, Math.abs(s)), `window ${k}: ${mine} vs ${s}`);
    });
    const results = JSON.parse(readFileSync(join(runDir, 'results', 'results.json'), 'utf8')) as {
      usad: { threshold: number };
    };
    for (const c of rows) assert.equal(c[3], Number(c[2]) >= results.usad.threshold ? '1' : '0');
    assert.match(r.out, /alarms: \d+ at threshold/);
    // the same as JSON
    const json = join(root, 'attack0.scores.json');
    assert.equal((await run('score', join(root, 'attack0.csv'), '--model', runDir, '-o', json)).code, 0);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as {
      threshold: number;
      windowSize: number;
      windows: Array<{ score: number; alarm: number }>;
    };
    assert.equal(doc.threshold, results.usad.threshold);
    assert.equal(doc.windowSize, 12);
    assert.deepEqual(
      doc.windows.map((w) => w.score),
      rows.map((c) => Number(c[2])),
    );
  });

  it('refuses new data whose columns do not match the model’s features', async () => {
    const rows = cells(readFileSync(join(root, 'attack0.csv'), 'utf8'));
    rows.forEach((r) => r.splice(6, 2)); // cpu_util, mem_util
    const bad = join(root, 'fewer.csv');
    writeFileSync(bad, text(rows));
    const r = await run('score', bad, '--model', runDir, '-o', join(root, 'fewer.scores.csv'));
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /fewer\.csv: the model's feature columns "cpu_util", "mem_util" are missing \(the model was trained on node_load1\{\}/,
    );
    assert.ok(!existsSync(join(root, 'fewer.scores.csv')));
  });
});
