import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chaosSchema, type ChaosConfigInput } from '../schemas/faults';
import type { InjectBatchInput, PlannedFault } from '../activities/chaos/types';
import { BatchEngine, removeAll } from '../activities/chaos/engine';
import { FaultLog, readFaultLog } from '../activities/chaos/fault-log';
import { LocalInjector, faultKey } from '../activities/chaos/injector';
import { faultLogPath } from '../activities/chaos/paths';
import { purgeFaults } from '../activities/chaos/purge';
import { SupervisorClient } from '../infra/local/supervisor/client';
import type { SupervisorConfigInput, AppSpec } from '../infra/local/supervisor/config';
import { boutiqueMainPath, supervisorMainPath } from '../infra/local/paths';
import { freePort, freePortRange, waitUntil } from './helpers/ports';
import { restoreEnv } from './helpers/env';

const MiB = 1024 * 1024;

/** The process's resident memory (Linux /proc), in bytes. */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** A pod's series value in the supervisor's /metrics (undefined when absent). */
function seriesOf(text: string, name: string, pod: string): number | undefined {
  const m = new RegExp(`^${name}\\{[^}]*pod="${pod}"[^}]*\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * The process fault kinds through the chaos engine and the local injector, on the real supervisor running real
 * boutique stand-in processes: container-kill restarts the container in place, memory-leak grows the target
 * process's own memory over the fault's duration and frees it.
 */
describe('fault kinds container-kill and memory-leak on the local target (engine → injector → supervisor)', function () {
  this.timeout(90_000);
  let dir: string;
  let child: ChildProcess;
  let client: SupervisorClient;
  let url: string;
  let previousHome: string | undefined;
  let n = 0;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'faultline-kinds-proc-'));
    previousHome = process.env.FAULTLINE_HOME;
    process.env.FAULTLINE_HOME = path.join(dir, 'home');
    const base = await freePortRange(30);
    const boutique = (app: string, offset: number, replicas: number): AppSpec => ({
      app,
      replicas,
      protocol: 'grpc',
      publicPort: base + offset,
      podPorts: [0, 1, 2].map((s) => ({ port: base + offset + 1 + 2 * s, metricsPort: base + offset + 2 + 2 * s })),
      metricsOn: 'metricsPort',
      command: process.execPath,
      args: [boutiqueMainPath(), '--service', app],
      env: { ENABLE_PROFILER: '0' },
    });
    const port = await freePort();
    const config: SupervisorConfigInput = {
      port,
      dataDir: path.join(dir, 'data'),
      backoff: { baseMs: 300, maxMs: 1200, resetAfterMs: 60_000 },
      readiness: { periodMs: 100, timeoutMs: 500, failureThreshold: 1 },
      apps: [boutique('paymentservice', 0, 2), boutique('shippingservice', 10, 1)],
    };
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    child = spawn(process.execPath, [supervisorMainPath(), '--config', file], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    url = `http://127.0.0.1:${port}`;
    client = new SupervisorClient(url);
    await waitUntil(() => client.healthy(), 15_000, 'supervisor /healthz');
    await waitUntil(async () => (await client.listPods()).every((p) => p.ready), 30_000, 'every pod ready');
  });
  after(async () => {
    if (child?.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    restoreEnv('FAULTLINE_HOME', previousHome);
    rmSync(dir, { recursive: true, force: true });
  });

  function setup(faults: ChaosConfigInput['faults']) {
    n += 1;
    const dataDir = path.join(process.env.FAULTLINE_HOME ?? dir, 'campaigns', `kinds-${n}`);
    const chaos = chaosSchema.parse({
      faults,
      episodes: null,
      guard: { allowedNamespaces: ['default'], maxConcurrent: 10 },
    });
    const endpoints = {
      kind: 'local' as const,
      frontendUrl: '',
      prometheusUrl: 'http://127.0.0.1:1',
      supervisorUrl: url,
    };
    return { campaignId: `kinds-${n}`, dataDir, chaos, endpoints, target: { type: 'local' } as never, epoch: 0 };
  }
  async function runBatch(input: InjectBatchInput) {
    const log = FaultLog.open(faultLogPath(input.dataDir));
    try {
      return await new BatchEngine(new LocalInjector(url), log, input, {
        heartbeat: () => undefined,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        now: Date.now,
      }).run();
    } finally {
      log.close();
    }
  }

  it('container-kill: the same pod (name, uid) ready again with restarts + 1 and the KSM counter + 1, no replacement pod', async () => {
    const s = setup([{ type: 'container-kill', selector: { app: 'shippingservice' } }]);
    const [before] = await client.listPods({ app: 'shippingservice' });
    assert.ok(before);
    const pidBefore = await client.podPid(before.name);
    const start = Date.now() + 300;
    const faults: PlannedFault[] = [
      { id: 'f000000', seq: 0, specIndex: 0, type: 'container-kill', plannedMs: start, durationMs: 1000, seed: 7 },
    ];
    const res = await runBatch({ ...s, faults, serviceUntilMs: start + 8000 });
    assert.equal(res.injected, 1);
    await removeAll(new LocalInjector(url), FaultLog.open(faultLogPath(s.dataDir)), s.campaignId, { watchMs: 10_000 });
    const [rec] = readFaultLog(faultLogPath(s.dataDir));
    assert.ok(rec?.appliedMs !== undefined && rec.recoveredMs !== undefined, JSON.stringify(rec));
    assert.deepEqual(rec.target.pods, [before.name]);
    const pods = await client.listPods({ app: 'shippingservice' });
    assert.equal(pods.length, 1, 'no replacement pod');
    const after = pods[0];
    assert.ok(after);
    assert.equal(after.name, before.name);
    assert.equal(after.uid, before.uid);
    assert.equal(after.restarts, before.restarts + 1);
    assert.ok(after.ready);
    assert.notEqual(await client.podPid(after.name), pidBefore, 'a new process in the same pod');
    const text = await client.metricsText();
    assert.equal(seriesOf(text, 'kube_pod_container_status_restarts_total', before.name), before.restarts + 1);
    // a container the local pods do not have is refused, naming the parameter, and nothing is restarted
    const other = {
      id: 'f000009',
      campaignId: s.campaignId,
      key: faultKey(s.campaignId, 'f000009'),
      type: 'container-kill' as const,
      namespace: 'default',
      app: 'shippingservice',
      pods: [after],
      params: { containerNames: ['istio-proxy'] },
      plannedMs: Date.now(),
      endMs: Date.now() + 1000,
      detail: {},
    };
    await assert.rejects(new LocalInjector(url).apply(other), /params\.containerNames \["istio-proxy"\]/);
    assert.equal((await client.getPod(after.name))?.restarts, after.restarts);
    console.log(
      `      container-kill: applied ${rec.appliedMs - rec.plannedMs} ms off plan, ready again after ${rec.recoveredMs - rec.appliedMs} ms`,
    );
  });

  it("memory-leak: the hit pod's own memory (RSS, cgroup working set) grows over the duration, the other pod's does not, and it is freed at the end", async () => {
    const size = 96 * MiB;
    const durationMs = 4000;
    const s = setup([
      { type: 'memory-leak', selector: { app: 'paymentservice' }, duration: '4s', params: { size: '96MB' } },
    ]);
    const pods = await client.listPods({ app: 'paymentservice' });
    const pids = new Map<string, number>();
    for (const p of pods) pids.set(p.name, await client.podPid(p.name));
    const rss0 = new Map([...pids].map(([name, pid]) => [name, rssOf(pid)]));
    const cgroups = ((await (await fetch(`${url}/cgroups`)).json()) as { ok: boolean }).ok;
    const ws0 = new Map(pods.map((p) => [p.name, 0]));
    if (cgroups) {
      const text = await client.metricsText();
      for (const p of pods) ws0.set(p.name, seriesOf(text, 'container_memory_working_set_bytes', p.name) ?? NaN);
    }
    const start = Date.now() + 400;
    const faults: PlannedFault[] = [
      { id: 'f000000', seq: 0, specIndex: 0, type: 'memory-leak', plannedMs: start, durationMs, seed: 11 },
    ];
    // samples of every pod's growth while the batch runs: [ms since start, name, rss delta, working-set delta]
    const samples: [number, string, number, number][] = [];
    let batchDone = false;
    const sampling = (async () => {
      while (!batchDone) {
        const t = Date.now() - start;
        const text = cgroups ? await client.metricsText() : '';
        for (const [name, pid] of pids) {
          const ws = cgroups
            ? (seriesOf(text, 'container_memory_working_set_bytes', name) ?? NaN) - (ws0.get(name) ?? 0)
            : NaN;
          samples.push([t, name, rssOf(pid) - (rss0.get(name) ?? 0), ws]);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const res = await runBatch({ ...s, faults, serviceUntilMs: start + durationMs + 3000 });
    batchDone = true;
    await sampling;
    assert.equal(res.injected, 1);
    await removeAll(new LocalInjector(url), FaultLog.open(faultLogPath(s.dataDir)), s.campaignId, { watchMs: 10_000 });
    const [rec] = readFaultLog(faultLogPath(s.dataDir));
    assert.ok(rec?.appliedMs !== undefined && rec.removedMs !== undefined && rec.recoveredMs !== undefined);
    const hit = rec.target.pods[0] ?? '';
    const other = pods.find((p) => p.name !== hit)?.name ?? '';
    const during = (name: string, from: number, to: number) =>
      samples.filter(([t, nm]) => nm === name && t >= from * durationMs && t < to * durationMs);
    const maxRss = (xs: typeof samples) => Math.max(...xs.map((x) => x[2]));
    // grows over the duration, not as a step: a quarter in it holds well under half, the last quarter nearly all
    const q1 = maxRss(during(hit, 0.15, 0.35));
    const q4 = maxRss(during(hit, 0.8, 1));
    assert.ok(q1 > size * 0.05 && q1 < size * 0.5, `a quarter in: ${(q1 / MiB).toFixed(1)} MiB of 96`);
    assert.ok(q4 > size * 0.7 && q4 < size * 1.3, `at the end: ${(q4 / MiB).toFixed(1)} MiB of 96`);
    assert.ok(maxRss(during(other, 0, 1)) < 16 * MiB, 'the other pod is unaffected');
    if (cgroups) {
      const ws = Math.max(...during(hit, 0.8, 1).map((x) => x[3]));
      assert.ok(ws > size * 0.6, `the pod's cgroup working set grew ${(ws / MiB).toFixed(1)} MiB`);
      console.log(
        `      memory-leak: the pod's container_memory_working_set_bytes +${(ws / MiB).toFixed(0)} MiB at 80–100 %`,
      );
    } else console.log('      (no pod cgroups here: container_memory_working_set_bytes not checked)');
    // freed after removal (the engine removed it at its end time)
    const hitPid = pids.get(hit) ?? 0;
    await waitUntil(() => rssOf(hitPid) - (rss0.get(hit) ?? 0) < 16 * MiB, 5000, 'the leak freed');
    assert.deepEqual(await client.listMemoryLeaks(), []);
    console.log(
      `      memory-leak: ${hit} +${(q1 / MiB).toFixed(0)} MiB at 15–35 % of the duration, +${(q4 / MiB).toFixed(0)} MiB at 80–100 %; ` +
        `applied ${rec.appliedMs - rec.plannedMs} ms off plan, removed ${rec.removedMs - (rec.plannedEndMs ?? 0)} ms off its end`,
    );
  });

  it('a stopped campaign leaves no memory leak: purge frees one the log still has active, the sweep one the log lost', async () => {
    const s = setup([
      { type: 'memory-leak', selector: { app: 'paymentservice' }, duration: '60s', params: { size: '32MB' } },
    ]);
    const start = Date.now() + 300;
    const faults: PlannedFault[] = [
      { id: 'f000000', seq: 0, specIndex: 0, type: 'memory-leak', plannedMs: start, durationMs: 60_000, seed: 3 },
    ];
    // the batch stops servicing long before the fault's end, as a stopped campaign's worker does
    await runBatch({ ...s, faults, serviceUntilMs: start + 500 });
    const leaks = await client.listMemoryLeaks();
    assert.deepEqual(
      leaks.map((l) => l.faultId),
      [faultKey(s.campaignId, 'f000000')],
    );
    // what `faultline chaos purge --supervisor <url>` does with no worker and no Temporal server
    const report = await purgeFaults({ supervisorUrl: url });
    assert.ok(
      report.removed.some((r) => r.campaignId === s.campaignId && r.type === 'memory-leak'),
      JSON.stringify(report),
    );
    assert.deepEqual(await client.listMemoryLeaks(), []);
    // one no log mentions (a crash between the supervisor request and the `planned` line's fsync): the sweep
    const [pod] = await client.listPods({ app: 'paymentservice' });
    assert.ok(pod);
    await client.startMemoryLeak(pod.name, faultKey(s.campaignId, 'f000009'), {
      sizeBytes: 8 * MiB,
      durationMs: 0,
      untilMs: Date.now() + 60_000,
    });
    await client.startMemoryLeak(pod.name, 'another-campaign:f000001', {
      sizeBytes: 8 * MiB,
      durationMs: 0,
      untilMs: Date.now() + 60_000,
    });
    assert.equal(await new LocalInjector(url).sweep(s.campaignId), 1);
    assert.deepEqual(
      (await client.listMemoryLeaks()).map((l) => l.faultId),
      ['another-campaign:f000001'],
    );
    await client.stopMemoryLeak(pod.name, 'another-campaign:f000001');
  });
});
