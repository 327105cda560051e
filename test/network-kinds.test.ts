import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chaosSchema, faultSpecSchema, type ChaosConfigInput } from '../schemas/faults';
import type { FaultRecord } from '../schemas/fault-log';
import type { InjectBatchInput, PlannedFault } from '../activities/chaos/types';
import type { ResolvedFault } from '../activities/chaos/kinds/kind';
import { BatchEngine } from '../activities/chaos/engine';
import { FaultLog, readFaultLog, readFaultLogEvents } from '../activities/chaos/fault-log';
import { LocalInjector } from '../activities/chaos/injector';
import { faultLogPath } from '../activities/chaos/paths';
import { purgeFaults } from '../activities/chaos/purge';
import { chaosMeshObject } from '../activities/chaos/chaos-mesh';
import { rateBytesPerSec } from '../activities/chaos/kinds/network-bandwidth';
import { rootCauseOf } from '../activities/chaos/kinds/registry';
import { faultEpisodes } from '../activities/dataset/episodes';
import { SupervisorHttp } from '../activities/chaos/supervisor-http';
import type { AppSpec, SupervisorConfigInput } from '../infra/local/supervisor/config';
import { fixtureApp } from './helpers/fixture-app';
import { supervisorMainPath } from '../infra/local/paths';
import { freePort, freePortRange, waitUntil } from './helpers/ports';
import { restoreEnv } from './helpers/env';

describe('network-bandwidth and dependency-failure: params, Chaos Mesh objects, ground truth', () => {
  it('converts rates as Chaos Mesh does (powers of 1024) and refuses what its webhook refuses, naming the field', () => {
    assert.equal(rateBytesPerSec('1mbps'), 1_048_576);
    assert.equal(rateBytesPerSec('512kbps'), 524_288);
    assert.equal(rateBytesPerSec('100bps'), 100);
    assert.equal(rateBytesPerSec('2Gbps'), 2 * 1024 ** 3);
    for (const rate of ['8mbit', '1.5mbps', 'fast', '0kbps']) {
      const r = chaosSchema.safeParse({ faults: [{ type: 'network-bandwidth', params: { rate } }] });
      assert.ok(!r.success, rate);
      assert.deepEqual(r.error.issues[0]?.path, ['faults', 0, 'params', 'rate'], rate);
      assert.match(r.error.issues[0]?.message ?? '', /Chaos Mesh rate|above 0/, rate);
    }
    assert.throws(
      () => faultSpecSchema.parse({ type: 'network-bandwidth', params: { rate: '1mbps', peakrate: 5 } }),
      /peakrate/,
    );
  });

  it('dependency-failure needs a dependency other than the caller, refused at config time naming the field', () => {
    assert.throws(() => faultSpecSchema.parse({ type: 'dependency-failure' }), /dependency-failure needs `dependency`/);
    const self = faultSpecSchema.safeParse({
      type: 'dependency-failure',
      selector: { app: 'frontend' },
      params: { dependency: 'frontend' },
    });
    assert.ok(!self.success);
    assert.deepEqual(self.error.issues[0]?.path, ['params', 'dependency']);
    assert.match(self.error.issues[0]?.message ?? '', /"frontend" is the selected caller itself/);
    assert.throws(
      () => faultSpecSchema.parse({ type: 'dependency-failure', params: { dependency: 'Product Catalog' } }),
      /app label/,
    );
  });

  const resolved = (type: ResolvedFault['type'], app: string, params: Record<string, unknown>): ResolvedFault => ({
    id: 'f000003',
    campaignId: 'c1',
    key: 'c1:f000003',
    type,
    namespace: 'boutique',
    app,
    pods: [
      {
        name: `${app}-abc-1`,
        uid: 'u',
        namespace: 'boutique',
        labels: { app },
        phase: 'Running',
        ready: true,
        restarts: 0,
      },
    ],
    params,
    plannedMs: 1_700_000_000_000,
    endMs: 1_700_000_008_000,
    detail: {},
  });

  it('become NetworkChaos bandwidth (direction to) and partition (caller pods → target = the dependency)', () => {
    const bw = chaosMeshObject(resolved('network-bandwidth', 'cartservice', { rate: '512kbps' }));
    assert.deepEqual(bw.spec, {
      action: 'bandwidth',
      mode: 'all',
      selector: { pods: { boutique: ['cartservice-abc-1'] } },
      direction: 'to',
      bandwidth: { rate: '512kbps', limit: 20_971_520, buffer: 10_000 },
      duration: '8s',
    });
    const dep = chaosMeshObject(resolved('dependency-failure', 'frontend', { dependency: 'productcatalogservice' }));
    assert.deepEqual(dep.spec, {
      action: 'partition',
      mode: 'all',
      selector: { pods: { boutique: ['frontend-abc-1'] } },
      direction: 'to',
      target: { mode: 'all', selector: { namespaces: ['boutique'], labelSelectors: { app: 'productcatalogservice' } } },
      duration: '8s',
    });
    assert.throws(
      () => chaosMeshObject(resolved('dependency-failure', 'frontend', { dependency: 'frontend' })),
      /f000003 \(dependency-failure\): params\.dependency: .*selected caller itself/,
    );
  });

  it("the dependency, not the caller, is the episode's root-cause service (episodes.json)", () => {
    const rec = (id: string, type: FaultRecord['type'], params: Record<string, unknown>): FaultRecord => ({
      id,
      campaignId: 'c1',
      type,
      target: { namespace: 'default', app: 'frontend', pods: ['frontend-a'] },
      params,
      plannedMs: 1000,
      appliedMs: 1000,
      removedMs: 3000,
      status: 'removed',
    });
    const ts = Float64Array.from({ length: 10 }, (_, i) => i * 500);
    const eps = faultEpisodes(
      [rec('f1', 'dependency-failure', { dependency: 'productcatalogservice' }), rec('f2', 'network-delay', {})],
      0,
      ts,
      {},
      2,
      'any',
    ).episodes;
    assert.deepEqual(
      eps.map((e) => [e.id, e.services, e.selected]),
      [
        ['f1', ['productcatalogservice'], 'frontend'],
        ['f2', ['frontend'], undefined],
      ],
    );
    // a log line whose params this version cannot read falls back to the picked app
    assert.equal(rootCauseOf({ type: 'dependency-failure', app: 'frontend', params: {} }), 'frontend');
  });
});

/**
 * Both kinds through the chaos engine's local path (BatchEngine → LocalInjector → the kind → the real supervisor
 * and its proxies, in a process of its own), their effect measured where a client sees it: bytes per second
 * through the shaped app's Service port; a caller's own calls to the dependency (the fixture's /dep endpoint).
 */
describe('network-bandwidth and dependency-failure on the local target, through the chaos engine', function () {
  this.timeout(90_000);
  let dir: string;
  let home: string;
  let previousHome: string | undefined;
  let child: ChildProcess;
  let sup: SupervisorHttp;
  let supUrl: string;
  let base: number;
  let n = 0;

  const fixture = (app: string, mode: 'grpc' | 'http', offset: number, extra: Partial<AppSpec> = {}): AppSpec =>
    fixtureApp(base, app, mode, offset, extra);

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'faultline-netkinds-'));
    home = path.join(dir, 'home');
    previousHome = process.env.FAULTLINE_HOME;
    process.env.FAULTLINE_HOME = home;
    base = await freePortRange(50);
    const port = await freePort();
    const config: SupervisorConfigInput = {
      port,
      dataDir: path.join(dir, 'data'),
      backoff: { baseMs: 300, maxMs: 1200, resetAfterMs: 60_000 },
      readiness: { periodMs: 200, timeoutMs: 1000, failureThreshold: 2 },
      proxy: { noEndpointWaitMs: 300 },
      apps: [
        fixture('grpcapp', 'grpc', 0),
        // two callers of grpcapp, each over a route of its own (as the boutique's callers are)
        fixture('callera', 'http', 10, { routes: [{ dependency: 'grpcapp', port: base + 40, env: 'GRPCAPP_ADDR' }] }),
        fixture('callerb', 'http', 20, { routes: [{ dependency: 'grpcapp', port: base + 41, env: 'GRPCAPP_ADDR' }] }),
      ],
    };
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    child = spawn(process.execPath, [supervisorMainPath(), '--config', file], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    supUrl = `http://127.0.0.1:${port}`;
    sup = new SupervisorHttp(supUrl);
    await waitUntil(
      async () => {
        const pods = await sup.listPods({}).catch(() => []);
        return pods.length === 3 && pods.every((p) => p.ready);
      },
      30_000,
      'every pod ready',
    );
  });
  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    restoreEnv('FAULTLINE_HOME', previousHome);
    rmSync(dir, { recursive: true, force: true });
  });

  function setup(faults: ChaosConfigInput['faults']) {
    n += 1;
    const campaignId = `netkinds-${n}`;
    const dataDir = path.join(home, 'campaigns', campaignId);
    const chaos = chaosSchema.parse({
      faults,
      episodes: null,
      guard: { allowedNamespaces: ['default'], maxConcurrent: 10 },
    });
    const endpoints = {
      kind: 'local' as const,
      frontendUrl: '',
      prometheusUrl: 'http://127.0.0.1:1',
      supervisorUrl: supUrl,
    };
    return { campaignId, dataDir, chaos, endpoints };
  }
  const plan = (types: PlannedFault['type'][], startMs: number, durationMs: number): PlannedFault[] =>
    types.map((type, i) => ({
      id: `f${String(i).padStart(6, '0')}`,
      seq: i,
      specIndex: i,
      type,
      plannedMs: startMs + i * 50,
      durationMs,
      seed: 100 + i,
    }));
  async function runBatch(input: InjectBatchInput) {
    const log = FaultLog.open(faultLogPath(input.dataDir));
    try {
      return await new BatchEngine(new LocalInjector(supUrl), log, input, {
        heartbeat: () => undefined,
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        now: Date.now,
      }).run();
    } finally {
      log.close();
    }
  }
  /** Bytes per second a client sees downloading `bytes` from callera through its Service port. */
  async function throughput(bytes: number): Promise<number> {
    const t = Date.now();
    const body = Buffer.from(await (await fetch(`http://127.0.0.1:${base + 10}/bytes?n=${bytes}`)).arrayBuffer());
    assert.equal(body.length, bytes);
    return bytes / ((Date.now() - t) / 1000);
  }
  /** A caller's own call to grpcapp (over its route): true when it answered within timeoutMs. */
  const callerReaches = async (offset: number, timeoutMs = 1500) =>
    (await fetch(`http://127.0.0.1:${base + offset}/dep?name=GRPCAPP_ADDR&timeoutMs=${timeoutMs}`)).status === 200;

  it("shapes the app's responses to the rate and cuts one caller from its dependency while the other answers; both back after removal", async () => {
    const rate = '512kbps';
    const expected = rateBytesPerSec(rate);
    const s = setup([
      { type: 'network-bandwidth', selector: { app: 'callera' }, params: { rate } },
      { type: 'dependency-failure', selector: { app: 'callera' }, params: { dependency: 'grpcapp' } },
    ]);
    assert.ok(await callerReaches(10), 'callera reaches grpcapp before the fault');
    const free0 = await throughput(1_000_000);
    const start = Date.now() + 400;
    const durationMs = 7000;
    const faults = plan(['network-bandwidth', 'dependency-failure'], start, durationMs);
    const measured: { shaped?: number; aCut?: boolean; bAnswers?: boolean } = {};
    const measuring = (async () => {
      await waitUntil(async () => (await sup.listProxyFaults()).length === 2, 5000, 'both faults applied');
      measured.shaped = await throughput(Math.round(expected * 1.5));
      measured.aCut = !(await callerReaches(10, 1000));
      measured.bAnswers = await callerReaches(20, 3000);
    })();
    const res = await runBatch({
      ...s,
      target: { type: 'local' } as never,
      faults,
      epoch: 0,
      serviceUntilMs: start + durationMs + 400,
    });
    await measuring;
    assert.equal(res.injected, 2, JSON.stringify(readFaultLog(faultLogPath(s.dataDir)), null, 1));
    const shaped = measured.shaped ?? 0;
    console.log(
      `      bandwidth ${rate} (${expected} B/s): shaped ${Math.round(shaped)} B/s, unshaped before ${Math.round(free0)} B/s`,
    );
    // the bucket never lets more than rate + its 10 kB burst through; a loaded host only makes it slower
    assert.ok(shaped <= expected * 1.1 && shaped >= expected * 0.5, `shaped ${Math.round(shaped)} B/s vs ${expected}`);
    assert.equal(measured.aCut, true, "callera's calls to grpcapp still answered during the partition");
    assert.equal(measured.bAnswers, true, 'callerb did not reach grpcapp during the partition');

    // removed at the end by the engine: nothing left, both effects gone
    assert.deepEqual(await sup.listProxyFaults(), []);
    const free = await throughput(1_000_000);
    assert.ok(free > expected * 3, `after removal ${Math.round(free)} B/s`);
    await waitUntil(() => callerReaches(10), 5000, 'callera reaches grpcapp again after removal');

    // the log records both ends of the cut link on the planned line
    const planned = readFaultLogEvents(faultLogPath(s.dataDir)).filter((e) => e.ev === 'planned');
    const dep = planned.find((e) => e.ev === 'planned' && e.type === 'dependency-failure');
    assert.ok(dep?.ev === 'planned');
    assert.equal(dep.target.app, 'callera');
    assert.deepEqual(dep.params, { dependency: 'grpcapp' });
    assert.equal(dep.detail?.caller, 'callera');
    assert.equal(dep.detail?.dependency, 'grpcapp');
    for (const r of readFaultLog(faultLogPath(s.dataDir)))
      assert.ok(r.removedMs !== undefined, `${r.id} ${r.type} removed`);
  });

  it('fails a dependency-failure whose caller has no route to the dependency, naming the callers that have one', async () => {
    const s = setup([
      { type: 'dependency-failure', selector: { app: 'grpcapp' }, params: { dependency: 'callera' } },
      { type: 'dependency-failure', selector: { labels: { app: 'callerb' } }, params: { dependency: 'callerb' } },
    ]);
    const res = await runBatch({
      ...s,
      target: { type: 'local' } as never,
      faults: plan(['dependency-failure', 'dependency-failure'], Date.now() + 200, 3000),
      epoch: 0,
    });
    assert.equal(res.injected, 0);
    assert.equal(res.failed, 2);
    const errors = readFaultLog(faultLogPath(s.dataDir)).map((r) => r.error ?? '');
    assert.match(
      errors[0] ?? '',
      /grpcapp cannot be cut from callera on the local target: .*400 .*callers with one: none/,
    );
    assert.match(errors[1] ?? '', /params\.dependency: dependency "callerb" is the selected caller itself/);
    assert.deepEqual(await sup.listProxyFaults(), []);
  });

  it('purge removes both kinds left behind by a worker that died', async () => {
    const s = setup([
      { type: 'network-bandwidth', selector: { app: 'callera' }, duration: '2m' },
      { type: 'dependency-failure', selector: { app: 'callerb' }, duration: '2m', params: { dependency: 'grpcapp' } },
    ]);
    const log = FaultLog.open(faultLogPath(s.dataDir));
    log.append({
      ev: 'campaign',
      ts: Date.now(),
      campaignId: s.campaignId,
      targetKind: 'local',
      supervisorUrl: supUrl,
    });
    log.close();
    const res = await runBatch({
      ...s,
      target: { type: 'local' } as never,
      faults: plan(['network-bandwidth', 'dependency-failure'], Date.now() + 200, 120_000),
      epoch: 0,
    });
    assert.equal(res.injected, 2);
    // ... the worker "dies" here: nothing removes them
    assert.deepEqual((await sup.listProxyFaults()).map((f) => `${f.app}:${f.kind}`).sort(), [
      'callera:bandwidth',
      'grpcapp:partition',
    ]);
    assert.equal(await callerReaches(20, 800), false, 'callerb cut');
    const report = await purgeFaults({});
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.removed.map((r) => r.type).sort(), ['dependency-failure', 'network-bandwidth']);
    assert.deepEqual(await sup.listProxyFaults(), []);
    await waitUntil(() => callerReaches(20), 5000, 'callerb reaches grpcapp after purge');
  });
});
