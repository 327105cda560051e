import type { Command } from 'commander';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  buildDatasetFromTables,
  DatasetError,
  readFaultRecords,
  scaleRowMajor,
  writeReferenceCsv,
  type DatasetCard,
  type ScalerParams,
} from '../../activities/dataset';
import { readArrowTable } from '../../activities/metrics';
import { datasetSchema, type DatasetConfig } from '../../schemas/dataset';
import { campaignDir, faultlineHome } from '../../infra/home';
import { CliError, EXIT } from '../errors';
import { registerImportCommands } from './dataset-import';
import { exportRcaeval } from '../../activities/localise/rcaeval-export';
import { relocalise } from '../../activities/localise/relocalise';

interface ExportOptions {
  csv?: boolean;
  out?: string;
  split?: string;
  scaled?: boolean;
  rcaeval?: string;
  system: string;
}

/** A campaign id (under $FAULTLINE_HOME/campaigns) or a campaign directory. */
export function resolveCampaignDir(campaign: string): string {
  const asDir = resolve(campaign);
  if (existsSync(join(asDir, 'metrics')) || existsSync(join(asDir, 'dataset'))) return asDir;
  const byId = campaignDir(faultlineHome(), campaign);
  if (existsSync(byId)) return byId;
  throw new CliError(
    `no campaign "${campaign}": neither a campaign directory nor an id under ${join(faultlineHome(), 'campaigns')}`,
    EXIT.usage,
  );
}

/** The dataset section of a campaign config file (YAML/JSON), else the campaign's config.json, else defaults. */
function datasetConfig(dir: string, file: string | undefined): { config: DatasetConfig; hash: string } {
  const path = file ?? (existsSync(join(dir, 'config.json')) ? join(dir, 'config.json') : undefined);
  let raw: unknown = {};
  if (path) {
    try {
      const doc = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown> | null;
      raw = doc && typeof doc === 'object' && 'dataset' in doc ? doc['dataset'] : (doc ?? {});
    } catch (err) {
      throw new CliError(`cannot read ${path}: ${(err as Error).message}`, EXIT.usage);
    }
  }
  const parsed = datasetSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new CliError(
      `invalid dataset config${path ? ` in ${path}` : ''}:\n${parsed.error.issues.map((i) => `  - dataset.${i.path.join('.')}: ${i.message}`).join('\n')}`,
      EXIT.usage,
    );
  }
  let hash = 'unknown';
  const indexPath = join(dir, '..', 'index.jsonl');
  if (existsSync(indexPath)) {
    for (const line of readFileSync(indexPath, 'utf8').split('\n')) {
      try {
        const e = JSON.parse(line) as { campaignId?: string; dataDir?: string; configHash?: string };
        if (e.dataDir && resolve(e.dataDir) === dir && e.configHash) hash = e.configHash;
      } catch {
        /* skip */
      }
    }
  }
  return { config: parsed.data, hash };
}

function readCard(dir: string): DatasetCard {
  const path = join(dir, 'dataset', 'card.json');
  if (!existsSync(path)) throw new CliError(`no dataset in ${dir}: run \`faultline dataset build\` first`, EXIT.usage);
  return JSON.parse(readFileSync(path, 'utf8')) as DatasetCard;
}

export function registerDatasetCommands(program: Command): void {
  const dataset = program
    .command('dataset')
    .description('labelled, cleaned, windowed datasets from a campaign (metrics + fault log)');

  dataset
    .command('build')
    .description('label, clean, scale, window and export <campaign>/metrics/*.arrow into <campaign>/dataset/')
    .argument('<campaign>', 'campaign id or campaign directory')
    .option(
      '-f, --file <config>',
      "campaign config (YAML/JSON) whose `dataset` section to use (default: the campaign's config.json)",
    )
    .option('--no-csv', 'skip dataset.csv')
    .option('--json', 'print the DatasetRef as JSON')
    .action(async (campaign: string, opts: { file?: string; csv: boolean; json?: boolean }) => {
      const dir = resolveCampaignDir(campaign);
      const metrics = join(dir, 'metrics');
      const tables: Record<string, string> = {};
      for (const f of existsSync(metrics) ? readdirSync(metrics) : [])
        if (f.endsWith('.arrow')) tables[basename(f, '.arrow')] = join(metrics, f);
      if (!Object.keys(tables).length)
        throw new CliError(`no collected metrics in ${metrics} (run the collect phase)`, EXIT.usage);
      const { config, hash } = datasetConfig(dir, opts.file);
      const faultLogPath = join(dir, 'chaos', 'faults.jsonl');
      const faults = existsSync(faultLogPath) ? await readFaultRecords(faultLogPath) : [];
      try {
        const res = await buildDatasetFromTables({
          campaignId: basename(dir),
          configHash: hash,
          outDir: join(dir, 'dataset'),
          tables,
          faults,
          faultLogPath: existsSync(faultLogPath) ? faultLogPath : undefined,
          config,
          csv: opts.csv,
        });
        if (opts.json) {
          console.log(
            JSON.stringify(
              {
                dir: res.dir,
                cardPath: res.cardPath,
                windows: res.windows,
                features: res.features,
                windowSize: res.windowSize,
              },
              null,
              2,
            ),
          );
        } else {
          console.log(`dataset written to ${res.dir}`);
          console.log(
            `  windows: train ${res.windows.train}, val ${res.windows.val}, test ${res.windows.test} (size ${res.windowSize}, ${res.features.length} features)`,
          );
          console.log(
            `  dropped: ${res.card.cleaning.dropped.map((d) => `${d.name} (${d.reason})`).join(', ') || 'none'}`,
          );
          console.log(
            `  filled: ${res.card.cleaning.filled.map((f) => `${f.name} ${f.points} pts`).join(', ') || 'none'}`,
          );
          console.log(`  card: ${join(res.dir, 'card.md')}`);
        }
      } catch (err) {
        if (err instanceof DatasetError) throw new CliError(err.message, EXIT.failed);
        throw err;
      }
    });

  registerImportCommands(program, dataset);

  dataset
    .command('inspect')
    .description('print the dataset card (time ranges, windows per label and fault type, cleaning, scaler)')
    .argument('<campaign>', 'campaign id or campaign directory')
    .option('--json', 'print card.json instead of the Markdown card')
    .action((campaign: string, opts: { json?: boolean }) => {
      const dir = resolveCampaignDir(campaign);
      const card = readCard(dir);
      if (opts.json) console.log(JSON.stringify(card, null, 2));
      else console.log(readFileSync(join(dir, 'dataset', 'card.md'), 'utf8'));
    });

  dataset
    .command('localise')
    .description(
      "re-run root-cause localisation on a finished campaign with this code: rewrites <campaign>/results/localisation.json and the report's localisation section",
    )
    .argument('<campaign>', 'campaign id or campaign directory')
    .option('--manifest <file>', "the manifest faultline's call graph is read from (default: Online Boutique's)")
    .option('--json', 'print the overall scores as JSON')
    .action(async (campaign: string, opts: { manifest?: string; json?: boolean }) => {
      const dir = resolveCampaignDir(campaign);
      let r;
      try {
        r = await relocalise(dir, opts.manifest ? { manifestPath: resolve(opts.manifest) } : {});
      } catch (err) {
        throw new CliError((err as Error).message, EXIT.usage);
      }
      const { results } = r;
      const rows = Object.entries(results.scores.injection.all).map(([name, byKind]) => {
        const o = byKind?.overall;
        const d = results.scores.detected.all[name as keyof typeof results.scores.detected.all]?.overall;
        return { name, injection: o, detected: d };
      });
      if (opts.json) {
        console.log(JSON.stringify({ path: r.path, report: r.report, default: results.default.name, rows }, null, 1));
        return;
      }
      const f = (v: number | undefined) =>
        v === undefined || !Number.isFinite(v) ? '  —  ' : v.toFixed(2).padStart(5);
      console.log(
        `${results.episodes.length} episodes (${results.episodes.filter((e) => e.detected).length} detected), default ${results.default.name}`,
      );
      console.log('ranker                      injection AC@1 AC@3 Avg@5 | detected onset AC@1 AC@3 Avg@5');
      for (const x of rows)
        console.log(
          `${x.name.padEnd(28)}${f(x.injection?.ac1)} ${f(x.injection?.ac3)} ${f(x.injection?.avg5)}   |   ${f(x.detected?.ac1)} ${f(x.detected?.ac3)} ${f(x.detected?.avg5)}`,
        );
      console.log(`→ ${r.path}${r.report.length ? `; report updated: ${r.report.join(', ')}` : ' (no report yet)'}`);
    });

  dataset
    .command('export')
    .description(
      'export the labelled points in the reference CSV layout (window_start, window_end, Normal/Attack, features...)',
    )
    .argument('<campaign>', 'campaign id or campaign directory')
    .option('--csv', 'write CSV (the only format so far; .npy and Arrow are already in <campaign>/dataset/)')
    .option('-o, --out <file>', 'output file (default <campaign>/dataset/export[-<split>].csv)')
    .option('--split <split>', 'only the points of one split: train, val or test')
    .option('--scaled', 'write the scaled values the model sees instead of the cleaned values in their units')
    .option(
      '--rcaeval <dir>',
      'write the fault episodes as RCAEval metric cases: <dir>/<system>/<service>_<fault>/<n>/{data.csv,inject_time.txt}',
    )
    .option('--system <name>', 'the RCAEval system folder (with --rcaeval)', 'faultline')
    .action(async (campaign: string, opts: ExportOptions) => {
      if (opts.rcaeval !== undefined) {
        if (opts.csv) throw new CliError('choose one format: --csv or --rcaeval', EXIT.usage);
        const dir = resolveCampaignDir(campaign);
        let cases;
        try {
          cases = await exportRcaeval({
            datasetDir: join(dir, 'dataset'),
            outRoot: resolve(opts.rcaeval),
            system: opts.system,
          });
        } catch (err) {
          throw new CliError((err as Error).message, EXIT.usage);
        }
        console.log(`${cases.length} RCAEval cases → ${join(resolve(opts.rcaeval), opts.system)}`);
        return;
      }
      if (!opts.csv) throw new CliError('choose a format: --csv or --rcaeval <dir>', EXIT.usage);
      if (opts.split && !['train', 'val', 'test'].includes(opts.split))
        throw new CliError(`--split must be train, val or test, not "${opts.split}"`, EXIT.usage);
      const dir = resolveCampaignDir(campaign);
      const card = readCard(dir);
      const points = await readArrowTable(join(dir, 'dataset', 'points.arrow'));
      const ts = points.columns.get('timestamp') as Float64Array;
      const names = JSON.parse(readFileSync(join(dir, 'dataset', 'features.json'), 'utf8')) as string[];
      const isAnomaly = Uint8Array.from(points.columns.get('is_anomaly') as Float64Array);
      const cols = new Map(names.map((n) => [n, points.columns.get(n) as Float64Array]));
      let ranges = [{ from: 0, to: ts.length }];
      if (opts.split) {
        const split = points.strings.get('split') ?? [];
        ranges = [];
        for (let i = 0; i < ts.length; i++) {
          if (split[i] !== opts.split) continue;
          const last = ranges[ranges.length - 1];
          if (last && last.to === i) last.to = i + 1;
          else ranges.push({ from: i, to: i + 1 });
        }
      }
      const values = opts.scaled
        ? {
            rowMajor: scaleRowMajor(
              JSON.parse(readFileSync(join(dir, 'dataset', 'scaler.json'), 'utf8')) as ScalerParams,
              cols,
              ts.length,
            ),
          }
        : { cols };
      const out = resolve(opts.out ?? join(dir, 'dataset', `export${opts.split ? `-${opts.split}` : ''}.csv`));
      const rows = await writeReferenceCsv(out, ts, card.stepMs, isAnomaly, names, values, ranges);
      console.log(`${rows} rows → ${out}`);
    });
}
