import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import type { CampaignConfigInput } from '../schemas/campaign';
import type { CampaignResult } from '../workflows/campaign';
import {
  chaosProgressQuery,
  chaosWorkflowId,
  pauseSignal,
  progressQuery,
  resumeSignal,
  stopSignal,
} from '../workflows/messages';
import { CampaignEnv } from './helpers/campaign-env';
import { stopTestTemporal, uniqueId } from './helpers/temporal';
import { waitUntil } from './helpers/ports';

/**
 * Records the replay fixtures (test/fixtures/histories/real-*.json) from REAL runs of the current code: the
 * real workers, Temporal dev server, local boutique, Prometheus and trainer of the end-to-end suite.
 *
 *   npx tsc -p tsconfig.json && node lib/workers/bundle.js && node lib/test/record-histories.js
 *
 * Three campaigns, each short so the fixtures stay small (a few minutes in all on an idle machine):
 *  - full: every phase, its chaosLoop child continuing-as-new (maxHistoryEvents at its minimum, short
 *    batches) → real-campaign-full.json and real-chaos-loop-full-run<N>.json, one file per chaosLoop run;
 *  - stop: stopped during the chaos phase (the child gets the stop) → real-campaign-stop*.json;
 *  - pause: paused during the chaos phase (the child removes its faults and waits), resumed, runs to the end
 *    → real-campaign-pause-resume*.json.
 * Record again only when a workflow change is *meant* to be incompatible (and ships with worker versioning);
 * otherwise old fixtures stay and keep replaying: see docs/workflow-versioning.md.
 */
const OUT = join(__dirname, '..', '..', 'test', 'fixtures', 'histories');

async function main(): Promise<void> {
  const env = await CampaignEnv.start();
  let ok = false;
  try {
    mkdirSync(OUT, { recursive: true });
    const chaos = {
      seed: 7,
      schedule: { type: 'uniform' as const, min: '2s', max: '3s' },
      episodes: { burst: '10s', quiet: '10s', startWith: 'burst' as const },
      faults: [
        { type: 'pod-kill' as const, weight: 2, duration: '3s' },
        { type: 'network-delay' as const, weight: 1, duration: '3s' },
      ],
      // Short batches and the smallest history budget: a 40 s chaos phase crosses continue-as-new.
      batchSpan: '3s',
      maxHistoryEvents: 50,
    };
    const base = (over: Partial<CampaignConfigInput>): CampaignConfigInput => ({
      name: 'replay-fixture',
      target: env.target,
      durations: { warmup: '2s', baseline: '40s', chaos: '40s' },
      traffic: { users: 2, thinkTime: '200ms' },
      browser: { enabled: false },
      chaos,
      dataset: { valChaosFraction: 0.3, windowLabel: 'last' },
      model: { epochs: 2, patience: 0 },
      ...over,
    });
    const start = (cfg: CampaignConfigInput) =>
      env.t.client.workflow.start('campaign', {
        taskQueue: env.taskQueue,
        workflowId: uniqueId('replay-fixture'),
        args: [cfg],
      });
    const injectedSoFar = async (h: WorkflowHandle) =>
      (await env.t.client.workflow.getHandle(chaosWorkflowId(h.workflowId)).query(chaosProgressQuery)).injected;

    // 1. The full pipeline.
    const full = await start(base({ name: 'replay-full' }));
    const fullResult = (await full.result()) as CampaignResult;
    assert.equal(fullResult.status, 'completed', 'full campaign completed');
    const chaosRuns = await save(env, full, 'real-campaign-full', 'real-chaos-loop-full');
    assert.ok(chaosRuns >= 2, `the chaosLoop child continued as new (runs: ${chaosRuns})`);
    console.log(`full campaign: ${fullResult.faultsInjected} faults, chaosLoop runs: ${chaosRuns}`);

    // 2. Stopped during chaos (collect…report still run on what was gathered; no training needed for the shape).
    const short = { warmup: '2s', baseline: '15s', chaos: '60s' };
    const stopPhases: CampaignConfigInput['phases'] = ['deploy', 'warmup', 'baseline', 'chaos', 'report'];
    const stop = await start(base({ name: 'replay-stop', durations: short, phases: stopPhases }));
    await waitUntil(async () => (await injectedSoFar(stop)) >= 2, 120_000, 'two faults injected');
    await stop.signal(stopSignal, { reason: 'recording a stop' });
    assert.equal(((await stop.result()) as CampaignResult).status, 'stopped');
    await save(env, stop, 'real-campaign-stop', 'real-chaos-loop-stop');

    // 3. Paused during chaos, resumed, runs to its end.
    const pause = await start(
      base({ name: 'replay-pause', durations: { ...short, chaos: '25s' }, phases: stopPhases }),
    );
    await waitUntil(async () => (await injectedSoFar(pause)) >= 1, 120_000, 'a fault injected');
    await pause.signal(pauseSignal, { reason: 'recording a pause' });
    await waitUntil(
      async () =>
        (await env.t.client.workflow.getHandle(chaosWorkflowId(pause.workflowId)).query(chaosProgressQuery)).active ===
        0,
      60_000,
      'faults removed on pause',
    );
    await new Promise((r) => setTimeout(r, 3_000)); // a pause of some length: the hold is in the history
    await pause.signal(resumeSignal);
    await waitUntil(async () => (await pause.query(progressQuery)).status === 'running', 30_000, 'running again');
    assert.equal(((await pause.result()) as CampaignResult).status, 'completed');
    await save(env, pause, 'real-campaign-pause-resume', 'real-chaos-loop-pause-resume');
    ok = true;
  } finally {
    await env.stop({ keepHome: !ok });
    await stopTestTemporal();
  }
}

/** Writes the campaign's history and each run of its chaosLoop child (following continue-as-new); returns the run count. */
async function save(env: CampaignEnv, campaign: WorkflowHandle, name: string, chaosName: string): Promise<number> {
  const history = await campaign.fetchHistory();
  write(name, history, campaign.workflowId);
  const started = history.events?.find((e) => e.childWorkflowExecutionStartedEventAttributes);
  let runId = started?.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.runId ?? undefined;
  let n = 0;
  while (runId) {
    n += 1;
    const run = await env.t.client.workflow.getHandle(chaosWorkflowId(campaign.workflowId), runId).fetchHistory();
    write(`${chaosName}-run${n}`, run, chaosWorkflowId(campaign.workflowId));
    const last = run.events?.[run.events.length - 1];
    runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return n;
}

/**
 * Replay needs each history's workflow id (the campaign derives its child's id from its own, and the id is not
 * in the history itself): test/fixtures/histories/workflow-ids.json maps file → id.
 */
const WORKFLOW_IDS_FILE = 'workflow-ids.json';

function write(name: string, history: History, workflowId: string): void {
  const file = join(OUT, `${name}.json`);
  writeFileSync(file, historyToJSON(history) + '\n');
  const idsFile = join(OUT, WORKFLOW_IDS_FILE);
  const ids = existsSync(idsFile) ? (JSON.parse(readFileSync(idsFile, 'utf8')) as Record<string, string>) : {};
  ids[`${name}.json`] = workflowId;
  const sorted = Object.fromEntries(Object.entries(ids).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(idsFile, JSON.stringify(sorted, null, 2) + '\n');
  console.log(`wrote ${file} (${history.events?.length ?? 0} events)`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
