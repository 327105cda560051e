import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils';

/**
 * The safety net itself: a deliberately changed campaign workflow (one extra timer before the collect
 * activity, bundled from test/fixtures/changed-workflows with the real workflows) fails to replay a history
 * recorded from a real full campaign with a nondeterminism error; the same change behind patched() replays it.
 * (If the first test ever passes, the replay suite would no longer catch incompatible changes.)
 */
describe('workflow replay safety: an unpatched change fails, a patched one replays', function () {
  this.timeout(180_000);
  const histories = join(__dirname, '..', '..', 'test', 'fixtures', 'histories');
  let full: History;
  let workflowId: string;
  const bundles = new Map<'unpatched' | 'patched', WorkflowBundleWithSourceMap>();

  before(async function () {
    this.timeout(300_000);
    full = historyFromJSON(JSON.parse(readFileSync(join(histories, 'real-campaign-full.json'), 'utf8')));
    const ids = JSON.parse(readFileSync(join(histories, 'workflow-ids.json'), 'utf8')) as Record<string, string>;
    workflowId = ids['real-campaign-full.json'] as string;
    const activityTypes = (full.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name);
    assert.ok(activityTypes.includes('collectMetrics'), 'the recorded full campaign reached collect');
    for (const variant of ['unpatched', 'patched'] as const) {
      bundles.set(
        variant,
        await bundleWorkflowCode({
          workflowsPath: require.resolve('../workflows'),
          workflowInterceptorModules: [require.resolve(`./fixtures/changed-workflows/extra-timer-${variant}`)],
          logger: quiet,
        }),
      );
    }
  });

  it('fails replay with a DeterminismViolationError when the change has no patch', async () => {
    const workflowBundle = bundles.get('unpatched') as WorkflowBundleWithSourceMap;
    await assert.rejects(
      Worker.runReplayHistory({ workflowBundle, replayName: 'unpatched change' }, full, workflowId),
      (err: unknown) => {
        assert.ok(err instanceof DeterminismViolationError, `expected a nondeterminism error, got ${String(err)}`);
        // the recorded next command (the collect activity) against the new one (a timer)
        assert.match(err.message, /nondeterminism/i);
        assert.match(
          err.message,
          /ActivityTaskScheduled/,
          'it fails where the timer meets the recorded collect activity',
        );
        return true;
      },
    );
  });

  it('replays the same history when the change is guarded by patched()', async () => {
    const workflowBundle = bundles.get('patched') as WorkflowBundleWithSourceMap;
    await Worker.runReplayHistory({ workflowBundle, replayName: 'patched change' }, full, workflowId);
  });
});

const quiet = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (msg: string) => console.error(msg),
};
