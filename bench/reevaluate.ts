/**
 * `node lib/bench/reevaluate.js <campaignDir> [--localise] [--report]`: a finished campaign's evaluate step
 * again with this code, on the campaign's own dataset and trained model (results/results.json and the scores
 * are rewritten), then optionally its localisation step, and its report: `--report` takes the report
 * activity's input from the campaign workflow's history (Temporal at $TEMPORAL_ADDRESS, workflow id = the
 * campaign id), puts the new evaluation in it and writes report/ again. For measurement runs whose code
 * changed after they were started: the numbers a campaign of this code would have reported on the same data.
 * Prints every detector's test metrics and alarm outcome, and the choice.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { evaluate } from '../activities/model/evaluate';
import type { EvaluationResults } from '../activities/model/evaluate';
import { relocalise } from '../activities/localise/relocalise';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { createReportActivities } from '../activities/report';
import type { ReportInput } from '../activities/report/types';

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir || !existsSync(join(dir, 'config.json')))
    throw new Error(
      'usage: reevaluate <campaignDir> [--localise] (a finished campaign: config.json, dataset/, model/)',
    );
  const read = <T>(...p: string[]) => JSON.parse(readFileSync(join(dir, ...p), 'utf8')) as T;
  const cfg = read<{ dataset: { window: { size: number } }; model: Parameters<typeof evaluate>[0]['model'] }>(
    'config.json',
  );
  const trained = read<Parameters<typeof evaluate>[0]['trained']>('model', 'result.json');
  const ds = join(dir, 'dataset');
  const t0 = performance.now();
  const headline = await evaluate({
    campaignId: basename(dir),
    dataDir: dir,
    dataset: {
      dir: ds,
      cardPath: join(ds, 'card.json'),
      windows: { train: 0, val: 0, test: 0 },
      features: read<string[]>('dataset', 'features.json'),
      windowSize: cfg.dataset.window.size,
    },
    // the model where the campaign directory is now (it may have been copied)
    trained: { ...trained, onnxPath: join(dir, 'model', 'model.onnx') },
    model: cfg.model,
  });
  const seconds = (performance.now() - t0) / 1000;
  const r = read<EvaluationResults>('results', 'results.json');
  const f = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(3) : '—');
  console.log(`evaluate: ${seconds.toFixed(1)} s; chosen ${r.chosen.detector}: ${r.chosen.why}`);
  for (const d of r.detectors) {
    const rec = d.alarm?.test?.recall?.map((x) => `${x.faultType} ${x.detected}/${x.faults}`).join(', ') ?? '';
    const fa = d.alarm?.test?.falseAlarms?.perHour;
    console.log(
      `${d.name.padEnd(26)} ROC-AUC ${f(d.test?.rocAuc)} PR-AUC ${f(d.test?.prAuc)} VUS-PR ${f(d.test?.vusPr)}` +
        (d.cannotScore ? `  cannot score: ${d.cannotScore}` : `  false alarms/quiet h ${f(fa)}  ${rec}`),
    );
  }
  if (process.argv.includes('--report')) {
    const address = process.env['TEMPORAL_ADDRESS'] ?? '127.0.0.1:7233';
    const connection = await Connection.connect({ address, connectTimeout: '10s' });
    try {
      const client = new Client({ connection, namespace: process.env['TEMPORAL_NAMESPACE'] ?? 'default' });
      const history = await client.workflow.getHandle(basename(dir)).fetchHistory();
      const scheduled = (history.events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes)
        .filter((a) => a?.activityType?.name === 'writeReport');
      const payload = scheduled.at(-1)?.input?.payloads?.[0];
      if (!payload) throw new Error(`${basename(dir)}'s history (at ${address}) has no writeReport activity`);
      const input = defaultPayloadConverter.fromPayload<ReportInput>(payload);
      const out = await createReportActivities().writeReport({ ...input, evaluation: headline });
      console.log(`report: ${out.htmlPath}`);
    } finally {
      await connection.close();
    }
  }
  // after the report, which rewrites report/results.json without the localisation entry relocalise adds
  if (process.argv.includes('--localise')) {
    const { results } = await relocalise(dir);
    for (const view of ['injection', 'detected'] as const) {
      const s = results.scores[view].all.faultline?.overall;
      if (s) console.log(`localise ${view} (all ${s.cases}): AC@1 ${f(s.ac1)} AC@3 ${f(s.ac3)} Avg@5 ${f(s.avg5)}`);
    }
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
