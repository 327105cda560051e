import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CampaignConfigInput } from '../schemas/campaign';
import type { CampaignResult } from '../workflows/campaign';
import { progressQuery } from '../workflows/messages';
import { CampaignEnv, suiteFailed } from './helpers/campaign-env';
import { restartTestTemporal, uniqueId } from './helpers/temporal';
import { waitUntil } from './helpers/ports';

interface SummaryFile {
  requests: number;
  resumes: number;
  startMs: number;
  endMs: number;
}

/**
 * Durability with real processes: the workers are `node lib/workers/*.js` child processes killed with
 * SIGKILL, the Temporal dev server is killed and restarted on its SQLite file, the load generator drives
 * the real local boutique. The campaign must complete as if nothing happened.
 */
describe('durability: worker crashes and server restarts', function () {
  this.timeout(300_000);
  let env: CampaignEnv;

  before(async function () {
    this.timeout(240_000);
    env = await CampaignEnv.start();
  });
  after(async function () {
    this.timeout(60_000);
    await env?.stop({ keepHome: suiteFailed(this) });
  });

  const config = (): CampaignConfigInput => ({
    name: 'durability',
    target: env.target,
    phases: ['deploy', 'warmup', 'baseline'],
    durations: { warmup: '2s', baseline: '30s' },
    traffic: { users: 4, thinkTime: '200ms' },
    browser: { enabled: false },
  });

  async function startCampaign() {
    return env.t.client.workflow.start('campaign', {
      taskQueue: env.taskQueue,
      workflowId: uniqueId('campaign-durability'),
      args: [config()],
    });
  }

  it('completes when the worker is SIGKILLed mid-activity and restarted; the load run resumes', async () => {
    const handle = await startCampaign();
    await waitUntil(async () => (await handle.query(progressQuery)).phase === 'baseline', 120_000, 'baseline phase');
    await new Promise((r) => setTimeout(r, 5_000)); // let the load run write a few seconds of results
    await env.killWorker('main');
    env.startWorker('main');
    const result = (await handle.result()) as CampaignResult;
    assert.equal(result.status, 'completed');
    const summary = JSON.parse(
      readFileSync(join(result.dataDir, 'traffic', 'baseline', 'summary.json'), 'utf8'),
    ) as SummaryFile;
    assert.ok(summary.resumes >= 1, 'the load run was resumed from its heartbeat, not restarted');
    assert.ok(summary.requests > 0);
    // Resumed runs keep the original plan: the phase ends on time, not 30 s after the restart.
    const planned = 30_000;
    assert.ok(summary.endMs - summary.startMs < planned + 15_000, `baseline ran ${summary.endMs - summary.startMs} ms`);
  });

  it('continues after the Temporal dev server is killed and restarted on the same SQLite file', async () => {
    const handle = await startCampaign();
    await waitUntil(async () => (await handle.query(progressQuery)).phase === 'baseline', 120_000, 'baseline phase');
    await restartTestTemporal({ downMs: 2_000 });
    const result = (await handle.result()) as CampaignResult;
    assert.equal(result.status, 'completed');
    const p = await handle.query(progressQuery);
    assert.deepEqual(
      p.phases.filter((x) => x.state !== 'skipped').map((x) => [x.name, x.state]),
      [
        ['deploy', 'done'],
        ['warmup', 'done'],
        ['baseline', 'done'],
      ],
    );
  });
});
