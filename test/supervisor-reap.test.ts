import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { POD_MARKER, podsMarkedFor, reapLeftoverPods, waitGone } from '../infra/local/supervisor/state';

describe('supervisor: reaping pods a dead supervisor left behind', () => {
  it('finds and kills pods by their environment marker even when no state file names them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fl-reap-'));
    const other = mkdtempSync(join(tmpdir(), 'fl-reap-other-'));
    const spawnPod = (d: string) =>
      spawn('sleep', ['30'], { env: { ...process.env, [POD_MARKER]: d }, stdio: 'ignore' });
    const mine = spawnPod(dir);
    const theirs = spawnPod(other); // another stack's pod: not ours to kill
    try {
      await new Promise((r) => setTimeout(r, 200)); // exec'd, environ readable
      assert.deepEqual(podsMarkedFor(dir), [mine.pid]);
      const killed = reapLeftoverPods(dir); // dir has no state.json
      assert.deepEqual(killed, [mine.pid]);
      assert.ok(await waitGone(killed, 5_000), 'the orphan is gone');
      assert.equal(theirs.exitCode, null, "the other stack's pod still runs");
      assert.deepEqual(podsMarkedFor(other), [theirs.pid]);
    } finally {
      mine.kill('SIGKILL');
      theirs.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      rmSync(other, { recursive: true, force: true });
    }
  });
});
