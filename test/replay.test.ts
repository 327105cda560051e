import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils';
import { RESOLVED_CONFIG_PATCH } from '../workflows/campaign';
import type { CampaignConfig } from '../schemas/campaign';
import { getWorkflowBundle } from './helpers/temporal';

/** File → workflow id of each recorded history (written by test/record-histories.ts). */
const WORKFLOW_IDS_FILE = 'workflow-ids.json';

/**
 * Determinism guard: histories recorded from real runs (test/fixtures/histories/real-*.json, recorded by
 * `node lib/test/record-histories.js`; the older campaign-*.json from stubbed runs predate patch
 * resolved-config) must replay against today's workflow code without nondeterminism errors.
 * A change that breaks one needs workflow versioning (patched()), not a new fixture: docs/workflow-versioning.md.
 */
describe('workflow replay', function () {
  this.timeout(120_000);
  const dir = join(__dirname, '..', '..', 'test', 'fixtures', 'histories');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json') && f !== WORKFLOW_IDS_FILE) : [];
  const load = (file: string): History => historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  // The id each history ran under (a campaign derives its chaos child's id from its own); older fixtures
  // without a child replay under any id.
  const ids = existsSync(join(dir, WORKFLOW_IDS_FILE))
    ? (JSON.parse(readFileSync(join(dir, WORKFLOW_IDS_FILE), 'utf8')) as Record<string, string>)
    : {};

  it('has recorded histories to replay, each real one with its workflow id', () => {
    assert.ok(files.length >= 3, `expected recorded histories in ${dir}`);
    for (const f of files.filter((x) => x.startsWith('real-'))) assert.ok(ids[f], `${f} in ${WORKFLOW_IDS_FILE}`);
  });

  for (const file of files) {
    it(`replays ${file} without nondeterminism`, async () => {
      await Worker.runReplayHistory(
        { workflowBundle: await getWorkflowBundle(), replayName: file },
        load(file),
        ids[file],
      );
    });
  }

  describe('the real fixtures are what they claim', () => {
    const activities = (h: History) =>
      (h.events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    const signals = (h: History) =>
      (h.events ?? []).flatMap((e) => e.workflowExecutionSignaledEventAttributes?.signalName ?? []);
    const last = (h: History) => h.events?.[h.events.length - 1];
    const completed = (h: History) => last(h)?.workflowExecutionCompletedEventAttributes != null;
    const continuedAsNew = (h: History) => last(h)?.workflowExecutionContinuedAsNewEventAttributes != null;

    it('a full campaign: every phase ran, the config was resolved by an activity behind its patch', () => {
      const h = load('real-campaign-full.json');
      const acts = activities(h);
      for (const a of ['resolveConfig', 'deployTarget', 'runLoad', 'collectMetrics', 'buildDataset', 'trainModel']) {
        assert.ok(acts.includes(a), `${a} in ${acts.join(', ')}`);
      }
      for (const a of ['evaluateModel', 'removeAllFaults', 'writeReport', 'finishCampaign'])
        assert.ok(acts.includes(a), a);
      assert.ok(
        h.events?.some((e) => e.childWorkflowExecutionStartedEventAttributes?.workflowType?.name === 'chaosLoop'),
        'chaosLoop child started',
      );
      const patches = (h.events ?? []).flatMap((e) => {
        const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
        return data ? [(JSON.parse(Buffer.from(data).toString()) as { id: string }).id] : [];
      });
      assert.ok(patches.includes(RESOLVED_CONFIG_PATCH), `patch markers: ${patches.join(', ')}`);
      // The resolved config is in the history (the activity's result), defaults filled in: what the run replays.
      const scheduled = h.events?.find(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'resolveConfig',
      );
      const done = h.events?.find(
        (e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId) === Number(scheduled?.eventId),
      );
      const data = done?.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data;
      assert.ok(data, 'resolveConfig result recorded');
      const resolved = JSON.parse(Buffer.from(data).toString()) as CampaignConfig;
      assert.equal(resolved.chaos.maxHistoryEvents, 50, 'as given');
      assert.equal(resolved.model.batchSize, 256, 'a default the input left out');
      assert.ok(completed(h), 'completed');
    });

    it('its chaosLoop child continued as new, and the last run completed', () => {
      const runs = files.filter((f) => f.startsWith('real-chaos-loop-full-run')).sort();
      assert.ok(runs.length >= 2, `chaosLoop runs: ${runs.join(', ')}`);
      for (const r of runs.slice(0, -1)) {
        assert.ok(continuedAsNew(load(r)), `${r} ends in continue-as-new`);
      }
      assert.ok(completed(load(runs[runs.length - 1] as string)), 'the last run completed');
      assert.ok(activities(load(runs[0] as string)).includes('injectFaultBatch'), 'faults injected');
    });

    it('a stop run and a pause/resume run, with the signals forwarded to the chaos child', () => {
      assert.ok(signals(load('real-campaign-stop.json')).includes('stop'));
      assert.ok(signals(load('real-chaos-loop-stop-run1.json')).includes('stop'));
      const paused = signals(load('real-campaign-pause-resume.json'));
      assert.ok(paused.includes('pause') && paused.includes('resume'), paused.join(', '));
      const child = signals(load('real-chaos-loop-pause-resume-run1.json'));
      assert.ok(child.includes('pause') && child.includes('resume'), child.join(', '));
    });
  });
});
