import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { getWorkflowBundle } from './helpers/temporal';

/**
 * Determinism guard: histories recorded from real runs (test/fixtures/histories/*.json, refreshed with
 * RECORD_HISTORIES=1) must replay against today's workflow code without nondeterminism errors.
 * A change that breaks one needs workflow versioning (patched()), not a new fixture.
 */
describe('workflow replay', function () {
  this.timeout(120_000);
  const dir = join(__dirname, '..', '..', 'test', 'fixtures', 'histories');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];

  it('has recorded histories to replay', () => {
    assert.ok(files.length >= 3, `expected recorded histories in ${dir}`);
  });

  for (const file of files) {
    it(`replays ${file} without nondeterminism`, async () => {
      const history = historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
      await Worker.runReplayHistory({ workflowBundle: await getWorkflowBundle(), replayName: file }, history);
    });
  }
});
