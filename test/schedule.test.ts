import assert from 'node:assert/strict';
import { parseCampaignConfig } from '../schemas/campaign';
import { createCampaignSchedule } from '../cli/commands/schedule';
import { getTestTemporal, uniqueId } from './helpers/temporal';
import { waitUntil } from './helpers/ports';

describe('nightly schedules', function () {
  this.timeout(60_000);

  it('creates a cron schedule (overlap SKIP, pause on failure) that starts a campaign when triggered', async () => {
    const t = await getTestTemporal();
    const config = parseCampaignConfig({ name: 'nightly', phases: ['deploy'] });
    const scheduleId = uniqueId('faultline-nightly');
    const handle = await createCampaignSchedule(t.client, { scheduleId, cron: '0 2 * * *', config });
    try {
      const d = await handle.describe();
      assert.equal(d.policies.overlap, 'SKIP');
      assert.equal(d.policies.pauseOnFailure, true);
      assert.ok(d.policies.catchupWindow > 0);
      const next = d.info.nextActionTimes[0];
      assert.ok(next, 'has a next run');
      assert.equal(next.getUTCHours(), 2);
      assert.equal(next.getUTCMinutes(), 0);

      await handle.trigger();
      const started = await waitUntil(
        async () => (await handle.describe()).info.recentActions[0],
        20_000,
        'a triggered run',
      );
      const wfId = started?.action.workflow.workflowId ?? '';
      assert.match(wfId, /^campaign-nightly-scheduled/);
      const wf = await t.client.workflow.getHandle(wfId).describe();
      assert.equal(wf.type, 'campaign');
      await t.client.workflow.getHandle(wfId).terminate('schedule test over');
    } finally {
      await handle.delete();
    }
  });
});
