import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DatasetError, importDataset, type ImportOptions } from '../../activities/dataset';
import type { DatasetCard } from '../../activities/dataset/card';
import { scoreData } from '../../activities/model/score-data';
import { datasetSchema } from '../../schemas/dataset';
import { ConfigError, IMPORTED_DATASET_PHASES, parseCampaignConfig } from '../../schemas/campaign';
import { connectClient } from '../connect';
import { CliError, EXIT } from '../errors';
import { exitCodeFor, followCampaign, printResult, startCampaign } from './campaign';
import { resolveCampaignDir } from './dataset';

interface GlobalOpts {
  address?: string;
  namespace?: string;
}

interface ReadOpts {
  timestampColumn?: string;
  labelColumn?: string | false;
  timezone?: string;
  empty?: string;
  maxGap?: string;
  sort?: boolean;
  duplicates?: string;
  nonNumeric?: string;
  normalLabel?: string[];
}

const oneOf = <T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T | undefined => {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v))
    throw new CliError(`${flag} must be one of ${allowed.join(', ')}, not "${v}"`, EXIT.usage);
  return v as T;
};
const int = (flag: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`${flag} must be a whole number ≥ 0, not "${v}"`, EXIT.usage);
  return n;
};
const list = (v: string | undefined) =>
  v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);

/** Options shared by import and score: how to read the files. */
function withReadOptions(cmd: Command): Command {
  return cmd
    .option(
      '--timestamp-column <name>',
      'timestamp column (default: window_start in the reference format, else timestamp/time/datetime/date/ts)',
    )
    .option(
      '--label-column <name>',
      'label column (default: Normal/Attack in the reference format, else label/is_anomaly/anomaly/attack)',
    )
    .option('--no-label-column', 'the files have no label column')
    .option(
      '--timezone <iana>',
      'timezone of naive timestamps, e.g. Asia/Taipei (default UTC; the dataset card says which)',
    )
    .option('--empty <policy>', 'empty cells: fill (short runs, see --max-gap), drop-rows or fail (default fill)')
    .option('--max-gap <rows>', 'longest run of empty cells filled, in rows (default 3; longer runs are an error)')
    .option('--sort', 'sort rows by time when a file is not sorted (default: an error naming the row)')
    .option('--duplicates <policy>', 'repeated timestamps: fail or keep-first (default fail)')
    .option('--non-numeric <policy>', 'non-numeric feature cells: fail or empty (default fail)')
    .option('--normal-label <value...>', 'label values that mean normal, besides normal/0/false/no/ok/benign');
}

function readOptions(o: ReadOpts): Partial<ImportOptions> {
  return {
    timestampColumn: o.timestampColumn,
    labelColumn: o.labelColumn === false ? null : o.labelColumn,
    timezone: o.timezone,
    emptyCells: oneOf('--empty', o.empty, ['fill', 'drop-rows', 'fail'] as const),
    maxGapRows: int('--max-gap', o.maxGap),
    unsorted: o.sort ? 'sort' : undefined,
    duplicates: oneOf('--duplicates', o.duplicates, ['fail', 'keep-first'] as const),
    nonNumeric: oneOf('--non-numeric', o.nonNumeric, ['fail', 'empty'] as const),
    normalLabels: o.normalLabel,
  };
}

/** The `dataset` section of a YAML/JSON file (a campaign config or a bare dataset section). */
function datasetSection(file: string | undefined): unknown {
  if (!file) return {};
  try {
    const doc = parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
    return doc && typeof doc === 'object' && 'dataset' in doc ? doc['dataset'] : (doc ?? {});
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EXIT.usage);
  }
}

function printCard(card: DatasetCard, dir: string): void {
  const imp = card.import;
  console.log(`dataset written to ${dir}`);
  console.log(
    `  windows: train ${card.splits.train.windows.total}, val ${card.splits.val.windows.total}, test ${card.splits.test.windows.total} ` +
      `(size ${card.window.size}, ${card.scaler.features.length} features; test anomalous ${card.splits.test.windows.anomalous})`,
  );
  if (imp) {
    console.log(`  format: ${imp.format}; timezone: ${imp.timezone.note}`);
    for (const d of imp.decisions) console.log(`  ${d.issue}: ${d.decision}`);
    for (const w of imp.warnings) console.log(`  WARNING: ${w}`);
  }
  console.log(`  card: ${join(dir, 'card.md')}`);
}

export function registerImportCommands(program: Command, dataset: Command): void {
  const globals = () => program.opts<GlobalOpts>();

  withReadOptions(
    dataset
      .command('import')
      .description(
        'CSV files → a dataset (the layout campaigns build): a normal file and a labelled test file, or one labelled file; ' +
          "the reference experiment's 13-column format is detected",
      )
      .argument('[files...]', 'NORMAL.csv TEST.csv, or one LABELLED.csv (or use --normal/--test/--labelled)')
      .requiredOption('-o, --out <dir>', 'dataset directory to write (written whole or not at all)')
      .option('--normal <csv>', 'normal data: training and validation')
      .option('--test <csv>', 'labelled test data')
      .option('--labelled <csv>', 'one labelled file, split in time (see --train-fraction)')
      .option('--format <format>', 'auto, reference or generic (default auto)')
      .option('--features <names>', 'comma-separated feature columns (default: every other column)')
      .option('--ignore <names>', 'comma-separated columns to leave out (reference format: window_end)')
      .option('--constant <policy>', 'columns constant in every file: drop or fail (default drop)')
      .option(
        '--train-fraction <f>',
        'one labelled file: share of rows, from the start, used for training and validation (default 0.5)',
      )
      .option('--window <n>', 'window size in rows (default 12, as the reference)')
      .option('--stride <n>', 'window stride in rows (default 1)')
      .option('--val-fraction <f>', 'share of the normal data, at its end, kept for validation (default 0.2)')
      .option('--val-test-fraction <f>', 'share of the test data, at its start, moved to validation (default 0.2)')
      .option('-f, --file <config>', 'YAML/JSON with a `dataset` section (scaler, clip, windowLabel, …)')
      .option('--force', 'replace --out if it exists')
      .option('--no-csv', 'skip dataset.csv')
      .option('--json', 'print card.json'),
  ).action(async (files: string[], opts: ReadOpts & Record<string, string | boolean | undefined>) => {
    const s = (k: string) => (typeof opts[k] === 'string' ? opts[k] : undefined);
    let normal = s('normal');
    let test = s('test');
    let labelled = s('labelled');
    if (files.length) {
      if (normal || test || labelled)
        throw new CliError('give the files either as arguments or with --normal/--test/--labelled', EXIT.usage);
      if (files.length === 2) [normal, test] = files;
      else if (files.length === 1) labelled = files[0];
      else
        throw new CliError(`expected NORMAL.csv TEST.csv or one LABELLED.csv, got ${files.length} files`, EXIT.usage);
    }
    const section = { ...(datasetSection(s('file')) as Record<string, unknown>) };
    const num = (flag: string, v: string | undefined) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n)) throw new CliError(`${flag} must be a number, not "${v}"`, EXIT.usage);
      return n;
    };
    if (s('window') || s('stride'))
      section.window = {
        ...(section.window ?? {}),
        ...(s('window') ? { size: int('--window', s('window')) } : {}),
        ...(s('stride') ? { stride: int('--stride', s('stride')) } : {}),
      };
    if (s('valFraction')) section.valFraction = num('--val-fraction', s('valFraction'));
    if (s('valTestFraction')) section.valChaosFraction = num('--val-test-fraction', s('valTestFraction'));
    const parsed = datasetSchema.safeParse(section);
    if (!parsed.success)
      throw new CliError(
        `invalid dataset settings:\n${parsed.error.issues.map((i) => `  - dataset.${i.path.join('.')}: ${i.message}`).join('\n')}`,
        EXIT.usage,
      );
    try {
      const res = await importDataset({
        normal,
        test,
        labelled,
        outDir: resolve(s('out')!),
        format: oneOf('--format', s('format'), ['auto', 'reference', 'generic'] as const),
        features: list(s('features')),
        ignore: list(s('ignore')),
        constantColumns: oneOf('--constant', s('constant'), ['drop', 'fail'] as const),
        trainFraction: num('--train-fraction', s('trainFraction')),
        ...readOptions(opts),
        config: parsed.data,
        csv: opts.csv !== false,
        force: opts.force === true,
      });
      if (opts.json) console.log(JSON.stringify(res.card, null, 2));
      else printCard(res.card, res.dir);
    } catch (err) {
      if (err instanceof DatasetError) throw new CliError(err.message, EXIT.usage);
      throw err;
    }
  });

  dataset
    .command('train')
    .description(
      `train, evaluate and report on an imported dataset: a campaign with only the data phases (${IMPORTED_DATASET_PHASES.join(' → ')}) through Temporal and the training pool`,
    )
    .argument('<dir>', 'a dataset directory written by `faultline dataset import`')
    .option('--name <name>', 'run name (lowercase letters, digits, dashes; default from the directory name)')
    .option('--id <workflowId>', 'workflow id (default campaign-<name>-<timestamp>)')
    .option('-f, --file <config>', 'YAML/JSON whose `model` section to use (epochs, latentSize, …)')
    .option('--epochs <n>', 'training epochs (upper bound; early stopping may end sooner)')
    .option('--no-wait', 'start and print the workflow id only')
    .action(
      async (dir: string, opts: { name?: string; id?: string; file?: string; epochs?: string; wait: boolean }) => {
        const abs = resolve(dir);
        if (!existsSync(join(abs, 'card.json')))
          throw new CliError(
            `${abs} is not a dataset directory (no card.json): make one with \`faultline dataset import\``,
            EXIT.usage,
          );
        let model: Record<string, unknown> = {};
        if (opts.file) {
          try {
            const doc = parseYaml(readFileSync(opts.file, 'utf8')) as Record<string, unknown> | null;
            model = { ...((doc?.model as Record<string, unknown> | undefined) ?? {}) };
          } catch (err) {
            throw new CliError(`cannot read ${opts.file}: ${(err as Error).message}`, EXIT.usage);
          }
        }
        if (opts.epochs !== undefined) model.epochs = int('--epochs', opts.epochs);
        const name =
          opts.name ??
          (basename(abs)
            .toLowerCase()
            .replace(/[^a-z0-9-]+/g, '-')
            .replace(/^-+|-+$/g, '')
            .slice(0, 63) ||
            'imported');
        let config;
        try {
          config = parseCampaignConfig({
            name,
            importedDataset: abs,
            phases: [...IMPORTED_DATASET_PHASES],
            model,
          });
        } catch (err) {
          if (err instanceof ConfigError) throw new CliError(err.message, EXIT.usage);
          throw err;
        }
        const { client, close } = await connectClient(globals());
        try {
          const handle = await startCampaign(client, config, opts.id);
          console.log(handle.workflowId);
          if (!opts.wait) return;
          const result = await followCampaign(handle, { quiet: !process.stderr.isTTY }).catch((err: Error) => {
            throw new CliError(
              `run ${handle.workflowId} failed: ${err.cause instanceof Error ? err.cause.message : err.message}`,
              EXIT.failed,
            );
          });
          printResult(result);
          process.exitCode = exitCodeFor(result);
        } finally {
          await close();
        }
      },
    );

  withReadOptions(
    program
      .command('score')
      .description(
        "score new data with an already trained model: scaled with the model's training scaler, windowed as in training, alarms at the model's threshold",
      )
      .argument('<data.csv>', 'new data with the model’s feature columns (and a timestamp; a label column is optional)')
      .requiredOption(
        '--model <run>',
        'a campaign or `dataset train` run: its id or directory (holds model/, dataset/, results/)',
      )
      .option('-o, --out <file>', 'scores as .csv or .json (default <data>.scores.csv)'),
  ).action(async (data: string, opts: ReadOpts & { model: string; out?: string }) => {
    const run = resolveCampaignDir(opts.model);
    const out = opts.out ?? data.replace(/\.csv$/i, '') + '.scores.csv';
    try {
      const r = await scoreData({ runDir: run, dataPath: data, outPath: out, read: readOptions(opts) });
      console.log(`${r.windows} windows (${r.rows} rows, window ${r.windowSize}) scored → ${r.outPath}`);
      console.log(
        `  alarms: ${r.alarms} at threshold ${r.threshold.toPrecision(6)} (${r.thresholdMethod}, chosen on validation data)`,
      );
      if (r.labelled)
        console.log(
          `  labelled windows: ${r.labelled.caught} of ${r.labelled.anomalous} anomalous caught, ${r.labelled.falseAlarms} false alarms`,
        );
      if (Object.keys(r.filled).length)
        console.log(
          `  empty cells filled: ${Object.entries(r.filled)
            .map(([c, n]) => `${c} ${n}`)
            .join(', ')}`,
        );
      if (r.unusedColumns.length) console.log(`  columns the model does not use: ${r.unusedColumns.join(', ')}`);
    } catch (err) {
      if (err instanceof DatasetError) throw new CliError(err.message, EXIT.usage);
      throw err;
    }
  });
}
