import type { DatasetConfig } from '../../schemas/dataset';
import type { CleanReport } from './clean';
import type { ScalerParams } from './scaler';

type Span = { startMs: number | null; endMs: number | null; points: number };

/** card.json: what a researcher needs to trust (and reproduce) the dataset. */
export interface DatasetCard {
  campaignId: string;
  configHash: string;
  createdAt: string;
  stepMs: number;
  phases: Array<{ name: string } & Span>;
  ignoredPhases: string[];
  features: Array<{ name: string; query: string; unit: string }>;
  labelling: {
    rule: string;
    marginMs: number;
    faultLog: string | null;
    faults: { applied: number; ignored: number; reachingOutsideChaos: number };
    windowLabel: 'any' | 'last';
  };
  window: { size: number; stride: number };
  splits: Record<
    'train' | 'val' | 'test',
    {
      ranges: Span[];
      windows: { total: number; normal: number; anomalous: number };
      windowsByFaultType: Record<string, number>;
      points: { total: number; anomalous: number };
    }
  >;
  cleaning: CleanReport;
  scaler: ScalerParams;
  config: DatasetConfig;
  /** Present when the data was imported from files (`faultline dataset import`), not collected by a campaign. */
  import?: ImportInfo;
}

/** One input file of an import. */
export interface ImportedFile {
  path: string;
  /** normal: training/validation data (the baseline phase); test: the held-out data (chaos phase); labelled: both, split in time. */
  role: 'normal' | 'test' | 'labelled';
  sha256: string;
  /** Data rows read, and rows kept after the row decisions (duplicates, dropped rows). */
  rows: number;
  rowsKept: number;
  firstMs: number | null;
  lastMs: number | null;
  /** Every non-constant feature column spans exactly [0, 1]: the file was min-max scaled on its own. */
  scaledOnItsOwn: boolean;
}

/** What was done about one kind of data problem (or that it was absent). */
export interface ImportDecision {
  issue:
    | 'timestamps'
    | 'empty-cells'
    | 'non-numeric'
    | 'constant-columns'
    | 'unsorted'
    | 'duplicate-timestamps'
    | 'time-gaps'
    | 'labels'
    | 'scaling';
  decision: string;
}

export interface ImportInfo {
  format: 'reference' | 'generic';
  files: ImportedFile[];
  timestampColumn: string;
  labelColumn: string | null;
  timezone: { name: string; naive: boolean; note: string };
  decisions: ImportDecision[];
  warnings: string[];
}

const iso = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString());
const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(6));

export function renderCardMarkdown(card: DatasetCard): string {
  const out: string[] = [];
  out.push(`# Dataset card — ${card.import ? 'imported data' : 'campaign'} ${card.campaignId}`, '');
  out.push(`- config hash: \`${card.configHash}\``, `- built: ${card.createdAt}`, `- step: ${card.stepMs} ms`);
  out.push(
    `- window: ${card.window.size} points, stride ${card.window.stride}, label rule "${card.labelling.windowLabel}"`,
  );
  out.push(`- labels: ${card.labelling.rule}; margin ${card.labelling.marginMs} ms`);
  if (!card.import)
    out.push(
      `- fault log: ${card.labelling.faultLog ?? '(none: no fault was injected, every point is normal)'} — ${card.labelling.faults.applied} applied faults used, ${card.labelling.faults.ignored} never applied (ignored)`,
    );
  if (card.ignoredPhases.length) out.push(`- phases not used: ${card.ignoredPhases.join(', ')}`);
  const seen = card.scaler.features;
  if (seen.length < card.features.length) {
    out.push(
      `- detector input: ${seen.length} of ${card.features.length} series (dataset.modelFeatures ${(card.config.modelFeatures ?? ['*']).join(', ')}); dataset.csv keeps all`,
    );
  }
  if (card.import) out.push(...renderImport(card.import));
  out.push('', '## Time ranges (UTC)', '', '| phase / split | start | end | points |', '|---|---|---|---|');
  for (const p of card.phases) out.push(`| phase ${p.name} | ${iso(p.startMs)} | ${iso(p.endMs)} | ${p.points} |`);
  for (const [name, s] of Object.entries(card.splits)) {
    for (const r of s.ranges) out.push(`| split ${name} | ${iso(r.startMs)} | ${iso(r.endMs)} | ${r.points} |`);
  }
  out.push('', '## Windows', '', '| split | total | normal | anomalous | by fault type |', '|---|---|---|---|---|');
  for (const [name, s] of Object.entries(card.splits)) {
    const types = Object.entries(s.windowsByFaultType)
      .map(([t, n]) => `${t}: ${n}`)
      .join(', ');
    out.push(`| ${name} | ${s.windows.total} | ${s.windows.normal} | ${s.windows.anomalous} | ${types || '—'} |`);
  }
  out.push('', '## Cleaning', '');
  if (!card.cleaning.dropped.length && !card.cleaning.filled.length) out.push('Nothing dropped or filled.');
  for (const d of card.cleaning.dropped) out.push(`- dropped \`${d.name}\` (${d.reason}): ${d.detail}`);
  for (const f of card.cleaning.filled) {
    out.push(
      `- filled \`${f.name}\`: ${f.gaps} gap(s), ${f.points} point(s) (${f.edgePoints} at phase edges, nearest value; the rest linear)`,
    );
  }
  out.push(`- gaps longer than ${card.cleaning.maxGapPoints} points are never filled`);
  out.push('', `## Scaler: ${card.scaler.kind}`, '');
  out.push(
    `Fit on ${card.scaler.fit.points} normal training points (${iso(card.scaler.fit.fromMs)} .. ${iso(card.scaler.fit.toMs)}); x' = (x − offset) / scale, ${card.scaler.clip ? `clipped to [${card.scaler.clip[0]}, ${card.scaler.clip[1]}]` : 'not clipped'}.`,
    '',
    '| feature | offset | scale | unit | query |',
    '|---|---|---|---|---|',
  );
  card.scaler.features.forEach((name, i) => {
    const f = card.features.find((x) => x.name === name);
    out.push(
      `| ${name} | ${fmt(card.scaler.offset[i] ?? NaN)} | ${fmt(card.scaler.scale[i] ?? NaN)} | ${f?.unit ?? ''} | \`${(f?.query ?? '').replace(/\|/g, '\\|')}\` |`,
    );
  });
  out.push('');
  return out.join('\n');
}

function renderImport(imp: ImportInfo): string[] {
  const out = ['', `## Imported from files (${imp.format} format)`, ''];
  out.push(
    `- timestamp column \`${imp.timestampColumn}\`; label column ${imp.labelColumn ? `\`${imp.labelColumn}\`` : '(none)'}`,
  );
  out.push(`- timezone: ${imp.timezone.name}${imp.timezone.naive ? ' (naive timestamps)' : ''}: ${imp.timezone.note}`);
  out.push(
    '',
    '| file | role | rows | kept | first (UTC) | last (UTC) | scaled on its own | sha256 |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const f of imp.files) {
    out.push(
      `| ${f.path} | ${f.role} | ${f.rows} | ${f.rowsKept} | ${iso(f.firstMs)} | ${iso(f.lastMs)} | ${f.scaledOnItsOwn ? 'yes' : 'no'} | ${f.sha256.slice(0, 12)} |`,
    );
  }
  if (imp.warnings.length) {
    out.push('', '### Warnings', '');
    for (const w of imp.warnings) out.push(`- **${w}**`);
  }
  out.push('', '### Decisions', '');
  for (const d of imp.decisions) out.push(`- ${d.issue}: ${d.decision}`);
  return out;
}
