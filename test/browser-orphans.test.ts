import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { markedBrowserProcesses, type MarkedProcess } from '../activities/browser/orphans';
import { processGone } from '../infra/local/supervisor/state';
import { freePort, waitUntil } from './helpers/ports';

const comm = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};
const ppid = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};

describe('browser: a worker SIGKILLed mid-probe leaks no browser', function () {
  this.timeout(120_000);
  const children: ChildProcess[] = [];
  let server: http.Server | undefined;
  let dir = '';

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    server?.closeAllConnections();
    server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the next worker start reaps the killed worker’s chromedriver and chromium, and their profile', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-browser-drill-'));
    // A frontend that takes the home page request and never answers: the probe's browser sits mid-step.
    let requests = 0;
    server = http.createServer(() => {
      requests++;
    });
    const port = await freePort();
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');

    const worker = spawn(
      process.execPath,
      [path.join(__dirname, 'browser-fixture-worker.js'), `http://127.0.0.1:${port}`, dir],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    children.push(worker);
    const mine = (): MarkedProcess[] => markedBrowserProcesses().filter((p) => p.owner.startsWith(`${worker.pid}:`));
    let browser: MarkedProcess[] = [];
    await waitUntil(
      () => {
        browser = mine();
        const names = browser.map((p) => comm(p.pid));
        return requests > 0 && names.includes('chromedriver') && names.some((n) => /^chrom(e|ium)$/.test(n));
      },
      60_000,
      'the probe’s chromedriver and chromium, marked with the worker as owner, loading the home page',
    );
    const profile = browser.find((p) => p.userDataDir)?.userDataDir;
    assert.ok(profile && fs.existsSync(profile), 'chromium runs on a profile directory of ours');

    worker.kill('SIGKILL');
    await once(worker, 'exit');
    // The leak this guards against: the browser outlives its worker, re-parented away from it.
    const orphans = browser.filter((p) => !processGone(p.pid));
    assert.ok(orphans.length > 0, 'the killed worker’s browser is still running (nothing else reaps it)');
    for (const p of orphans) assert.notEqual(ppid(p.pid), worker.pid);

    // The next worker start (the real worker, here with no Temporal to reach: it reaps before connecting).
    const next = spawn(process.execPath, [path.join(__dirname, '..', 'workers', 'main.js')], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
        FAULTLINE_HOME: dir,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(next);
    let stderr = '';
    next.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitUntil(
      () => orphans.every((p) => processGone(p.pid)),
      30_000,
      `the next worker start to kill ${orphans.map((p) => `${comm(p.pid)} ${p.pid}`).join(', ')}`,
    );
    assert.deepEqual(mine(), [], 'no process marked with the killed worker survives');
    await waitUntil(() => /reaped \d+ orphaned browser processes/.test(stderr), 30_000, 'the worker to say so').catch(
      (e: unknown) => {
        throw new Error(`${(e as Error).message}; its stderr:\n${stderr}`);
      },
    );
    assert.equal(fs.existsSync(path.dirname(profile)), false, 'the session directory (profile, TMPDIR) is removed');
    if (next.exitCode === null) {
      next.kill('SIGKILL');
      await once(next, 'exit');
    }
  });
});
