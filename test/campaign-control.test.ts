import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { temporalBinary } from '../infra/temporal/dev-server';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { createCampaignActivities } from '../activities/campaign';
import type { CampaignConfigInput } from '../schemas/campaign';
import { progressQuery, pauseSignal, resumeSignal, stopSignal, type CampaignProgress } from '../workflows/messages';
import type { CampaignResult } from '../workflows/campaign';
import type { LoadRunInput, LoadRunSummary } from '../activities/traffic/types';
import type { RemoveAllFaultsInput } from '../activities/chaos/types';
import { getTestTemporal, getWorkflowBundle, uniqueId, type TestTemporal } from './helpers/temporal';
import { waitUntil } from './helpers/ports';

/**
 * Workflow control flow against a real Temporal dev server. The campaign's external activities are stubbed
 * here (a plain object to Worker.create, as in samples/hello-world's mocha tests): this suite is about
 * signals, queries, phases and cleanup; each real activity has its own suite.
 */
describe('campaign workflow: signals, queries and cleanup', function () {
  this.timeout(120_000);
  let t: TestTemporal;
  let home: string;

  before(async function () {
    this.timeout(180_000);
    t = await getTestTemporal();
    await getWorkflowBundle();
    home = mkdtempSync(join(tmpdir(), 'faultline-ctl-'));
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  interface Calls {
    loads: LoadRunInput[];
    loadsDone: number;
    removeAll: RemoveAllFaultsInput[];
  }

  function activities(calls: Calls) {
    return {
      ...createCampaignActivities({ home }),
      async deployTarget() {
        return { kind: 'local' as const, frontendUrl: 'http://127.0.0.1:1', prometheusUrl: 'http://127.0.0.1:1' };
      },
      /** Stands in for the load generator: runs for its duration, heartbeating, and honours cancellation. */
      async runLoad(input: LoadRunInput): Promise<LoadRunSummary> {
        calls.loads.push(input);
        const start = Date.now();
        while (Date.now() - start < input.durationMs) {
          Context.current().heartbeat();
          await Context.current().sleep(100);
        }
        calls.loadsDone += 1;
        const latencyMs = { min: 1, mean: 1, p50: 1, p90: 1, p95: 1, p99: 1, max: 1 };
        return {
          phase: input.phase,
          jtlPath: '',
          summaryPath: '',
          startMs: start,
          endMs: Date.now(),
          requests: 10,
          errors: 0,
          throughputPerSec: 1,
          latencyMs,
        };
      },
      async removeAllFaults(input: RemoveAllFaultsInput) {
        calls.removeAll.push(input);
        return { removed: 0 };
      },
    };
  }

  /** RECORD_HISTORIES=1 refreshes test/fixtures/histories from these runs (then commit them). */
  async function maybeRecord(workflowId: string, name: string): Promise<void> {
    if (process.env.RECORD_HISTORIES !== '1') return;
    // The CLI writes the canonical proto-JSON that historyFromJSON reads back.
    const json = execFileSync(
      temporalBinary(),
      ['workflow', 'show', '--address', t.address, '--workflow-id', workflowId, '--output', 'json'],
      {
        encoding: 'utf8',
      },
    );
    const dir = join(__dirname, '..', '..', 'test', 'fixtures', 'histories');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.json`), json);
  }

  async function run<T>(calls: Calls, fn: (taskQueue: string) => Promise<T>): Promise<T> {
    const taskQueue = uniqueId('ctl');
    const worker = await Worker.create({
      connection: t.nativeConnection,
      namespace: t.namespace,
      taskQueue,
      workflowBundle: await getWorkflowBundle(),
      activities: activities(calls),
    });
    return worker.runUntil(fn(taskQueue));
  }

  const config = (over: Partial<CampaignConfigInput> = {}): CampaignConfigInput => ({
    name: 'control',
    phases: ['deploy', 'warmup', 'baseline', 'chaos'],
    durations: { warmup: '200ms', baseline: '3s', chaos: '60s' },
    browser: { enabled: false },
    chaos: { enabled: false },
    ...over,
  });

  it('answers progress, pauses at the next phase boundary, resumes and stops gracefully', async () => {
    const calls: Calls = { loads: [], loadsDone: 0, removeAll: [] };
    await run(calls, async (taskQueue) => {
      const handle = await t.client.workflow.start('campaign', {
        taskQueue,
        workflowId: uniqueId('campaign-control'),
        args: [config()],
      });
      await waitUntil(async () => (await handle.query(progressQuery)).phase === 'baseline', 30_000, 'baseline phase');
      let p: CampaignProgress = await handle.query(progressQuery);
      assert.equal(p.status, 'running');
      assert.equal(p.phases.find((x) => x.name === 'deploy')?.state, 'done');
      assert.ok(p.fraction > 0 && p.fraction < 1, `fraction ${p.fraction}`);

      await handle.signal(pauseSignal, { reason: 'maintenance window' });
      await waitUntil(async () => (await handle.query(progressQuery)).status === 'paused', 10_000, 'paused status');
      // The baseline's traffic finishes its 3 s, then the pipeline holds before chaos.
      await waitUntil(() => calls.loadsDone >= 2, 20_000, 'baseline traffic to finish');
      await waitUntil(
        async () => (await handle.query(progressQuery)).message === 'paused before chaos',
        10_000,
        'hold at boundary',
      );
      p = await handle.query(progressQuery);
      assert.equal(p.phase, 'baseline');
      assert.equal(calls.loads.filter((l) => l.phase === 'chaos').length, 0, 'no chaos traffic while paused');

      await handle.signal(resumeSignal);
      await waitUntil(
        async () => (await handle.query(progressQuery)).phase === 'chaos',
        10_000,
        'chaos phase after resume',
      );
      assert.equal((await handle.query(progressQuery)).status, 'running');

      await handle.signal(stopSignal, { reason: 'test over' });
      const result = (await handle.result()) as CampaignResult;
      assert.equal(result.status, 'stopped');
      const final = await handle.query(progressQuery);
      assert.equal(final.status, 'stopped');
      assert.equal(final.phase, 'done');
      await maybeRecord(handle.workflowId, 'campaign-pause-resume-stop');
    });
  });

  it('runs cleanup exactly once when stopped during the chaos phase, even with repeated stops', async () => {
    const calls: Calls = { loads: [], loadsDone: 0, removeAll: [] };
    await run(calls, async (taskQueue) => {
      const handle = await t.client.workflow.start('campaign', {
        taskQueue,
        workflowId: uniqueId('campaign-cleanup'),
        args: [config({ durations: { warmup: '100ms', baseline: '200ms', chaos: '5m' } })],
      });
      await waitUntil(() => calls.loads.some((l) => l.phase === 'chaos'), 30_000, 'chaos traffic to start');
      await Promise.all([handle.signal(stopSignal, { reason: 'one' }), handle.signal(stopSignal, { reason: 'two' })]);
      const result = (await handle.result()) as CampaignResult;
      assert.equal(result.status, 'stopped');
      assert.equal(result.cleanupRuns, 1);
      assert.equal(calls.removeAll.length, 1, 'removeAllFaults called once');
      assert.equal(calls.removeAll[0]?.campaignId, handle.workflowId);
      const chaos = (await handle.query(progressQuery)).phases.find((x) => x.name === 'chaos');
      assert.equal(chaos?.state, 'done', 'a stopped phase ends cleanly');
      await maybeRecord(handle.workflowId, 'campaign-stop-during-chaos');
    });
  });

  it('runs cleanup when the campaign is cancelled', async () => {
    const calls: Calls = { loads: [], loadsDone: 0, removeAll: [] };
    await run(calls, async (taskQueue) => {
      const handle = await t.client.workflow.start('campaign', {
        taskQueue,
        workflowId: uniqueId('campaign-cancel'),
        args: [config({ durations: { warmup: '100ms', baseline: '200ms', chaos: '5m' } })],
      });
      await waitUntil(() => calls.loads.some((l) => l.phase === 'chaos'), 30_000, 'chaos traffic to start');
      await handle.cancel();
      await assert.rejects(handle.result(), WorkflowFailedError);
      assert.equal(calls.removeAll.length, 1, 'faults removed on cancel');
      await maybeRecord(handle.workflowId, 'campaign-cancelled');
    });
  });

  it('fails fast with InvalidConfig when started with a bad config (as from the UI)', async () => {
    const calls: Calls = { loads: [], loadsDone: 0, removeAll: [] };
    await run(calls, async (taskQueue) => {
      const handle = await t.client.workflow.start('campaign', {
        taskQueue,
        workflowId: uniqueId('campaign-bad'),
        args: [{ name: 'Bad Name', durations: { baseline: 'forever' } }],
      });
      const err = await handle.result().then(
        () => assert.fail('should fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError);
      const cause = err.cause as Error & { type?: string };
      assert.equal(cause.type, 'InvalidConfig');
      assert.match(cause.message, /name: must be lowercase/);
      assert.match(cause.message, /durations\.baseline: must be a duration/);
      assert.equal(calls.loads.length, 0, 'nothing ran');
    });
  });
});
