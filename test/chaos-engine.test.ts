import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chaosSchema, type ChaosConfigInput, type FaultType } from '../schemas/faults';
import type { TargetEndpoints } from '../activities/deploy/types';
import type { InjectBatchInput, PlannedFault } from '../activities/chaos/types';
import { BatchEngine, removeAll } from '../activities/chaos/engine';
import { FaultLog, readFaultLog, readFaultLogEvents } from '../activities/chaos/fault-log';
import { LocalInjector } from '../activities/chaos/injector';
import { clearHalt, writeHalt } from '../activities/chaos/halt';
import { faultLogPath } from '../activities/chaos/paths';
import { purgeFaults } from '../activities/chaos/purge';
import { listStressPidFiles, stressAlive } from '../activities/chaos/stress-ng';
import { allReady, startTestSupervisor, type TestSupervisor } from './chaos-support';
import { waitUntil } from './helpers/ports';
import { restoreEnv } from './helpers/env';

const ALL_TYPES: { type: FaultType; app: string; params?: Record<string, unknown> }[] = [
  { type: 'pod-kill', app: 'cartservice' },
  { type: 'pod-failure', app: 'cartservice' },
  { type: 'network-delay', app: 'cartservice', params: { latency: '300ms' } },
  { type: 'network-loss', app: 'cartservice', params: { loss: 50 } },
  { type: 'cpu-stress', app: 'cartservice', params: { workers: 1, load: 30 } },
  { type: 'memory-stress', app: 'cartservice', params: { workers: 1, size: '32MB' } },
  { type: 'http-abort', app: 'frontend', params: { code: 503, percent: 100 } },
  { type: 'http-delay', app: 'frontend', params: { delay: '400ms', percent: 100 } },
];

describe('chaos engine against the real local supervisor (no Temporal)', function () {
  this.timeout(120_000);
  let sup: TestSupervisor;
  let home: string;
  let previousHome: string | undefined;
  let n = 0;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'faultline-chaos-home-'));
    previousHome = process.env.FAULTLINE_HOME;
    process.env.FAULTLINE_HOME = home;
    sup = await startTestSupervisor([
      { app: 'frontend', replicas: 1 },
      { app: 'cartservice', replicas: 2 },
    ]);
  });
  after(async () => {
    await sup?.stop();
    restoreEnv('FAULTLINE_HOME', previousHome);
    rmSync(home, { recursive: true, force: true });
  });
  afterEach(() => clearHalt());

  function setup(faults: ChaosConfigInput['faults'], extra: Partial<ChaosConfigInput> = {}) {
    n += 1;
    const dataDir = join(home, 'campaigns', `engine-${n}`);
    const chaos = chaosSchema.parse({
      faults,
      episodes: null,
      guard: { allowedNamespaces: ['default'], maxConcurrent: 10 },
      ...extra,
    });
    const endpoints: TargetEndpoints = {
      kind: 'local',
      frontendUrl: sup.serviceUrl.frontend ?? '',
      prometheusUrl: 'http://127.0.0.1:1',
      supervisorUrl: sup.url,
    };
    return { campaignId: `engine-${n}`, dataDir, chaos, endpoints };
  }

  function plan(types: number, startMs: number, stepMs: number, durationMs: number): PlannedFault[] {
    return Array.from({ length: types }, (_, i) => ({
      id: `f${String(i).padStart(6, '0')}`,
      seq: i,
      specIndex: i,
      type: ALL_TYPES[i]!.type,
      plannedMs: startMs + i * stepMs,
      durationMs,
      seed: 1000 + i,
    }));
  }

  async function runBatch(input: InjectBatchInput, injector = new LocalInjector(sup.url)) {
    const log = FaultLog.open(faultLogPath(input.dataDir));
    try {
      return await new BatchEngine(injector, log, input, {
        heartbeat: () => undefined,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        now: Date.now,
      }).run();
    } finally {
      log.close();
    }
  }

  it('applies every fault type with a measurable effect, removes each at its end time and observes recovery', async () => {
    const s = setup(
      ALL_TYPES.map((t) => ({ type: t.type, selector: { app: t.app }, params: t.params ?? {} })) as never,
    );
    const start = Date.now() + 500;
    const faults = plan(ALL_TYPES.length, start, 250, 3000);
    const injector = new LocalInjector(sup.url);
    const effects: Record<string, boolean> = {};
    // measure the effects while the batch runs
    const measuring = (async () => {
      // poll until each effect has been seen while its fault is on (2 shared cores: applies can run late)
      await waitUntil(() => Date.now() > start, 10_000);
      const deadline = start + 7 * 250 + 3000;
      while (Date.now() < deadline && Object.values(effects).filter(Boolean).length < 7) {
        const t0 = Date.now();
        const res = await fetch(`${sup.serviceUrl.frontend}/`).catch(() => undefined);
        if (res?.status === 503) effects['http-abort'] = true;
        if (Date.now() - t0 >= 350) effects['http-delay'] = true;
        const faultsNow = await sup.client.listProxyFaults();
        if (faultsNow.some((f) => f.kind === 'delay' && f.app === 'cartservice')) effects['network-delay'] = true;
        if (faultsNow.some((f) => f.kind === 'loss' && f.app === 'cartservice')) effects['network-loss'] = true;
        const stress = listStressPidFiles();
        if (stress.some((p) => p.args.includes('--cpu') && stressAlive(p.pid))) effects['cpu-stress'] = true;
        if (stress.some((p) => p.args.includes('--vm') && stressAlive(p.pid))) effects['memory-stress'] = true;
        const pods = await sup.client.listPods({ app: 'cartservice' });
        if (pods.some((p) => !p.ready)) effects['pod-failure'] = true;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const res = await runBatch({
      ...s,
      target: { type: 'local' } as never,
      faults,
      epoch: 0,
      serviceUntilMs: start + 3000 + 7 * 250 + 200,
    });
    await measuring;
    assert.equal(res.injected, 8, JSON.stringify(readFaultLog(faultLogPath(s.dataDir)), null, 1));
    for (const t of ALL_TYPES.slice(1))
      assert.ok(effects[t.type], `no effect measured for ${t.type}: ${JSON.stringify(effects)}`);
    await removeAll(injector, FaultLog.open(faultLogPath(s.dataDir)), s.campaignId, { watchMs: 15_000 });
    const recs = readFaultLog(faultLogPath(s.dataDir));
    console.log('      adherence ms', recs.map((r) => `${r.type}:${(r.appliedMs ?? 0) - r.plannedMs}`).join(' '));
    for (const r of recs) {
      assert.ok(r.appliedMs !== undefined && r.removedMs !== undefined, `${r.id} ${r.type} ${r.status}`);
      // loose bound: 2 shared cores; bench/chaos.ts measures adherence properly
      assert.ok(
        Math.abs(r.appliedMs - r.plannedMs) < 300,
        `${r.type} applied ${r.appliedMs - r.plannedMs} ms off plan`,
      );
      if (r.type !== 'pod-kill')
        assert.ok(
          Math.abs(r.removedMs - (r.plannedEndMs ?? 0)) < 400,
          `${r.type} removed ${r.removedMs - (r.plannedEndMs ?? 0)} ms off its end`,
        );
      assert.ok(r.recoveredMs !== undefined, `${r.type} recovery was not observed`);
    }
    assert.deepEqual(await sup.client.listProxyFaults(), []);
    assert.equal(listStressPidFiles().filter((p) => stressAlive(p.pid)).length, 0);
    await allReady(sup.client, 20_000);
  });

  it('never applies a fault twice when a batch is retried (idempotency key = campaign + fault id)', async () => {
    const s = setup([
      { type: 'pod-kill', selector: { app: 'cartservice' } },
      { type: 'network-delay', selector: { app: 'cartservice' }, duration: '2s' },
    ]);
    const start = Date.now() + 300;
    const faults: PlannedFault[] = [
      { id: 'f000000', seq: 0, specIndex: 0, type: 'pod-kill', plannedMs: start, durationMs: 5000, seed: 1 },
      { id: 'f000001', seq: 1, specIndex: 1, type: 'network-delay', plannedMs: start + 100, durationMs: 2000, seed: 2 },
    ];
    const restartsBefore = (await sup.client.listPods({ app: 'cartservice' })).reduce((a, p) => a + p.restarts, 0);
    const input = { ...s, target: { type: 'local' } as never, faults, epoch: 0 };
    const first = await runBatch(input);
    const second = await runBatch(input); // a retry of the same activity, from the start
    assert.equal(first.injected, 2);
    assert.equal(second.injected, 2); // counted from the log, not applied again
    assert.deepEqual(second.adherenceMs, []);
    const applied = readFaultLogEvents(faultLogPath(s.dataDir)).filter((e) => e.ev === 'applied');
    assert.equal(applied.length, 2);
    const pods = await sup.client.listPods({ app: 'cartservice' });
    // one kill: one pod replaced (fresh name, or one restart), never two
    const names = pods.map((p) => p.name);
    const killed = readFaultLog(faultLogPath(s.dataDir))[0]?.target.pods ?? [];
    assert.ok(
      killed.every((k) => !names.includes(k)) || pods.reduce((a, p) => a + p.restarts, 0) === restartsBefore + 1,
    );
    await removeAll(new LocalInjector(sup.url), FaultLog.open(faultLogPath(s.dataDir)), s.campaignId, {
      watchMs: 10_000,
    });
    await allReady(sup.client, 20_000);
  });

  it('refuses out-of-scope faults and logs each refusal with its reason', async () => {
    const s = setup(
      [
        { type: 'pod-kill', selector: { app: 'redis' } },
        { type: 'pod-kill', mode: 'all', selector: { app: 'cartservice' } },
        { type: 'pod-kill', selector: { app: 'cartservice', namespace: 'kube-system' } },
      ],
      { guard: { allowedNamespaces: ['default'] } },
    );
    const start = Date.now() + 100;
    const faults: PlannedFault[] = [0, 1, 2].map((i) => ({
      id: `f00000${i}`,
      seq: i,
      specIndex: i,
      type: 'pod-kill',
      plannedMs: start + i * 10,
      durationMs: 1000,
      seed: i,
    }));
    const res = await runBatch({ ...s, target: { type: 'local' } as never, faults, epoch: 0 });
    assert.equal(res.injected, 0);
    assert.equal(res.rejected, 3);
    const recs = readFaultLog(faultLogPath(s.dataDir));
    assert.match(recs[0]?.error ?? '', /"redis" is part of the platform.*allowRedis/);
    assert.match(recs[1]?.error ?? '', /mode "all".*allowModeAll/);
    assert.match(recs[2]?.error ?? '', /namespace "kube-system" is outside/);
  });

  it('injects nothing while the global halt marker is set and records the halt', async () => {
    const s = setup([{ type: 'network-delay', selector: { app: 'cartservice' } }]);
    writeHalt('test halt');
    const faults: PlannedFault[] = [
      {
        id: 'f000000',
        seq: 0,
        specIndex: 0,
        type: 'network-delay',
        plannedMs: Date.now() + 100,
        durationMs: 1000,
        seed: 1,
      },
    ];
    const res = await runBatch({ ...s, target: { type: 'local' } as never, faults, epoch: 0 });
    assert.equal(res.injected, 0);
    assert.match(res.halted?.reason ?? '', /test halt/);
    const events = readFaultLogEvents(faultLogPath(s.dataDir));
    assert.ok(events.some((e) => e.ev === 'halted'));
    assert.ok(!events.some((e) => e.ev === 'applied'));
  });

  it('purge removes faults left active with no worker and no Temporal server (from the fault logs alone)', async () => {
    const s = setup([
      { type: 'network-delay', selector: { app: 'cartservice' }, duration: '2m' },
      { type: 'pod-failure', selector: { app: 'cartservice' }, duration: '2m' },
      { type: 'cpu-stress', selector: { app: 'cartservice' }, duration: '2m', params: { workers: 1, load: 10 } },
      { type: 'http-abort', selector: { app: 'frontend' }, duration: '2m' },
    ]);
    const start = Date.now() + 200;
    const types: FaultType[] = ['network-delay', 'pod-failure', 'cpu-stress', 'http-abort'];
    const faults: PlannedFault[] = types.map((type, i) => ({
      id: `f00000${i}`,
      seq: i,
      specIndex: i,
      type,
      plannedMs: start + i * 20,
      durationMs: 120_000,
      seed: i,
    }));
    // the header line purge uses to find the supervisor
    const log = FaultLog.open(faultLogPath(s.dataDir));
    log.append({
      ev: 'campaign',
      ts: Date.now(),
      campaignId: s.campaignId,
      targetKind: 'local',
      supervisorUrl: sup.url,
    });
    log.close();
    const res = await runBatch({ ...s, target: { type: 'local' } as never, faults, epoch: 0 });
    assert.equal(res.injected, 4);
    // ... and the worker "dies" here: nothing removes them
    assert.equal((await sup.client.listProxyFaults()).length, 2);
    const report = await purgeFaults({});
    assert.deepEqual(report.problems, []);
    assert.ok(report.removed.filter((r) => r.campaignId === s.campaignId).length === 4, JSON.stringify(report));
    assert.deepEqual(await sup.client.listProxyFaults(), []);
    assert.equal(listStressPidFiles().filter((p) => stressAlive(p.pid)).length, 0);
    await allReady(sup.client, 20_000);
    const recs = readFaultLog(faultLogPath(s.dataDir));
    assert.ok(recs.every((r) => r.removedMs !== undefined && (r.notes ?? []).some((x) => /purge/.test(x))));
    assert.ok(readFileSync(faultLogPath(s.dataDir), 'utf8').includes('purge'));
  });
});
