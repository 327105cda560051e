import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { decodeTimeoutType } from '@temporalio/common';
import { chaosSchema, type ChaosConfigInput } from '../schemas/faults';
import type { ChaosLoopInput, ChaosLoopResult } from '../activities/chaos/types';
import { createChaosActivities } from '../activities/chaos';
import { createChaosHostWorker } from '../workers/chaos-host-worker';
import { activeFaults, foldFaultLog, readFaultLog, readFaultLogEvents } from '../activities/chaos/fault-log';
import { clearHalt, writeHalt } from '../activities/chaos/halt';
import { faultLogPath } from '../activities/chaos/paths';
import { listStressPidFiles, stressAlive } from '../activities/chaos/stress-ng';
import { signalRunningChaosLoops } from '../cli/commands/chaos';
import { chaosProgressQuery, chaosWorkflowId, stopSignal } from '../workflows/messages';
import { getTestTemporal, getWorkflowBundle, uniqueId, type TestTemporal } from './helpers/temporal';
import { waitUntil } from './helpers/ports';
import { restoreEnv } from './helpers/env';
import { allReady, startFakePrometheus, startTestSupervisor, type TestSupervisor } from './chaos-support';

/** Seconds of the long loop test (the issue asks for 60 s; lower it locally with FAULTLINE_CHAOS_TEST_SECONDS). */
const LOOP_SECONDS = Number(process.env.FAULTLINE_CHAOS_TEST_SECONDS ?? 60);

describe('chaosLoop workflow (Temporal dev server + real local supervisor)', function () {
  this.timeout(240_000);
  let t: TestTemporal;
  let sup: TestSupervisor;
  let home: string;
  let previousHome: string | undefined;

  before(async function () {
    this.timeout(300_000);
    home = mkdtempSync(join(tmpdir(), 'faultline-chaos-loop-'));
    previousHome = process.env.FAULTLINE_HOME;
    process.env.FAULTLINE_HOME = home;
    [t, sup] = await Promise.all([
      getTestTemporal(),
      startTestSupervisor([
        { app: 'frontend', replicas: 1 },
        { app: 'cartservice', replicas: 2 },
      ]),
    ]);
    await getWorkflowBundle();
  });
  after(async () => {
    clearHalt();
    await sup?.stop();
    restoreEnv('FAULTLINE_HOME', previousHome);
    rmSync(home, { recursive: true, force: true });
  });

  function loopInput(
    name: string,
    seconds: number,
    chaos: Partial<ChaosConfigInput>,
    prometheusUrl = 'http://127.0.0.1:1',
  ): ChaosLoopInput {
    const campaignId = uniqueId(name);
    const startMs = Date.now() + 1500;
    return {
      campaignId,
      dataDir: join(home, 'campaigns', campaignId),
      target: { type: 'local' } as never,
      endpoints: { kind: 'local', frontendUrl: sup.serviceUrl.frontend ?? '', prometheusUrl, supervisorUrl: sup.url },
      chaos: chaosSchema.parse({
        episodes: null,
        guard: { allowedNamespaces: ['default'], maxConcurrent: 10 },
        ...chaos,
      }),
      startMs,
      endMs: startMs + seconds * 1000,
    };
  }

  async function withWorker<T>(
    taskQueue: string,
    fn: () => Promise<T>,
    opts: { activities?: boolean } = {},
  ): Promise<T> {
    // as workers/main.ts: with activities, this process also polls its own chaos queue (the loop's batches)
    const host =
      opts.activities === false
        ? undefined
        : await createChaosHostWorker({
            connection: t.nativeConnection,
            namespace: t.namespace,
            baseQueue: taskQueue,
            heartbeatThrottle: '1s',
          });
    const worker = await Worker.create({
      connection: t.nativeConnection,
      namespace: t.namespace,
      taskQueue,
      workflowBundle: await getWorkflowBundle(),
      ...(host ? { activities: { ...createChaosActivities(), ...host.sharedActivities } } : {}),
      maxHeartbeatThrottleInterval: '1s',
    });
    return host ? host.worker.runUntil(worker.runUntil(fn())) : worker.runUntil(fn());
  }

  /** Starts the loop with its window beginning 1.5 s from now (workers may take seconds to start on 2 cores). */
  const start = (taskQueue: string, input: ChaosLoopInput): Promise<WorkflowHandleWithFirstExecutionRunId> => {
    const shift = Date.now() + 1500 - input.startMs;
    input.startMs += shift;
    input.endMs += shift;
    return t.client.workflow.start('chaosLoop', {
      taskQueue,
      workflowId: chaosWorkflowId(input.campaignId),
      args: [input],
    });
  };

  const noLiveEffects = async () =>
    (await sup.client.listProxyFaults()).length === 0 &&
    listStressPidFiles().filter((p) => stressAlive(p.pid)).length === 0;

  /** The pid of the worker running the loop's current batch (worker identity is "<pid>@<host>"). */
  async function runningActivityWorkerPid(workflowId: string): Promise<number | undefined> {
    let pid: number | undefined;
    await waitUntil(
      async () => {
        const d = await t.client.workflow.getHandle(workflowId).describe();
        const raw = d.raw.pendingActivities?.[0];
        const id = raw?.lastWorkerIdentity ?? '';
        pid = Number(id.split('@')[0]) || undefined;
        return pid !== undefined;
      },
      10_000,
      'the batch activity to be running',
    );
    return pid;
  }

  /** The log: every id from f000000 to the last present once, nothing double-applied, nothing left active. */
  function checkLog(dataDir: string) {
    const events = readFaultLogEvents(faultLogPath(dataDir));
    const recs = readFaultLog(faultLogPath(dataDir));
    const applied = events.filter((e) => e.ev === 'applied').map((e) => (e as { id: string }).id);
    assert.equal(new Set(applied).size, applied.length, `a fault was applied twice: ${applied.join(',')}`);
    recs.forEach((r, i) => assert.equal(r.id, `f${String(i).padStart(6, '0')}`, 'gap or reorder in fault ids'));
    assert.deepEqual(
      activeFaults(foldFaultLog(events).values()).map((r) => r.id),
      [],
      'faults left active',
    );
    return recs;
  }

  it(`injects the planned faults of a ${LOOP_SECONDS} s loop at 1–2 s cadence, continues as new, and the pods come back`, async function () {
    this.timeout(LOOP_SECONDS * 1000 + 180_000);
    const tq = uniqueId('chaos-60s');
    const input = loopInput('loop60', LOOP_SECONDS, {
      faults: [
        { type: 'pod-kill', weight: 4, selector: { app: 'cartservice' }, duration: '10s' },
        {
          type: 'network-delay',
          weight: 1,
          selector: { app: 'cartservice' },
          duration: '3s',
          params: { latency: '100ms' },
        },
        { type: 'http-abort', weight: 1, selector: { app: 'frontend' }, duration: '2s', params: { percent: 50 } },
      ] as never,
      batchSize: LOOP_SECONDS >= 60 ? 5 : 3,
      maxHistoryEvents: 50,
    });
    const result = await withWorker(tq, async () => {
      const h = await start(tq, input);
      const r = (await h.result()) as ChaosLoopResult;
      const first = await t.client.workflow.getHandle(h.workflowId, h.firstExecutionRunId).describe();
      assert.equal(first.status.name, 'CONTINUED_AS_NEW', 'the loop should continue as new to bound its history');
      return r;
    });
    const recs = checkLog(input.dataDir);
    const planned = recs.length;
    assert.ok(
      planned >= LOOP_SECONDS / 2 - 2 && planned <= LOOP_SECONDS + 1,
      `${planned} faults planned in ${LOOP_SECONDS} s`,
    );
    for (let i = 1; i < recs.length; i++) {
      const gap = recs[i]!.plannedMs - recs[i - 1]!.plannedMs;
      assert.ok(gap >= 1000 && gap <= 2000, `planned gap ${gap} ms`);
    }
    const applied = recs.filter((r) => r.appliedMs !== undefined);
    assert.equal(result.injected, applied.length);
    assert.ok(
      applied.length >= planned - 1,
      `${planned - applied.length} planned faults were not applied: ${JSON.stringify(recs.filter((r) => r.appliedMs === undefined))}`,
    );
    const lat = applied.map((r) => (r.appliedMs as number) - r.plannedMs).sort((a, b) => a - b);
    console.log(
      `      ${planned} planned, ${applied.length} applied; applied−planned p50 ${lat[Math.floor(lat.length / 2)]} ms, max ${lat[lat.length - 1]} ms`,
    );
    assert.ok(applied.every((r) => r.removedMs !== undefined));
    const kills = applied.filter((r) => r.type === 'pod-kill');
    assert.ok(kills.length > 0);
    await allReady(sup.client, 30_000);
    assert.ok(await noLiveEffects());
    // every pod-kill but possibly the last few was observed to recover
    assert.ok(kills.filter((r) => r.recoveredMs !== undefined).length >= kills.length - 2, 'pods did not come back');
  });

  it('removes every active fault within 5 s of stop (specs taken in turn: order cycle)', async () => {
    const tq = uniqueId('chaos-stop');
    const input = loopInput('stop', 120, {
      schedule: { type: 'fixed', interval: '300ms' },
      order: 'cycle',
      faults: [
        { type: 'network-delay', selector: { app: 'cartservice' }, duration: '60s' },
        { type: 'pod-failure', selector: { app: 'cartservice' }, duration: '60s' },
        { type: 'cpu-stress', selector: { app: 'cartservice' }, duration: '60s', params: { workers: 1, load: 5 } },
        { type: 'http-delay', selector: { app: 'frontend' }, duration: '60s' },
      ] as never,
      guard: { allowedNamespaces: ['default'], maxConcurrent: 4 },
    });
    await withWorker(tq, async () => {
      const h = await start(tq, input);
      await waitUntil(
        () => activeFaults(foldFaultLog(readFaultLogEvents(faultLogPath(input.dataDir))).values()).length >= 3,
        30_000,
        '3 active faults',
      );
      const t0 = Date.now();
      await h.signal(stopSignal, { reason: 'test' });
      await waitUntil(noLiveEffects, 5000, 'no live fault effects');
      await waitUntil(
        () => activeFaults(foldFaultLog(readFaultLogEvents(faultLogPath(input.dataDir))).values()).length === 0,
        5000 - (Date.now() - t0),
        'no active faults in the log',
      );
      console.log(`      every fault removed ${Date.now() - t0} ms after stop`);
      const r = (await h.result()) as ChaosLoopResult;
      assert.equal(r.stopped, true);
    });
    // order cycle through the workflow (its patch): the log's n-th fault is spec n mod 4, rejected ones included
    const specTypes = input.chaos.faults.map((f) => f.type);
    const recs = checkLog(input.dataDir);
    assert.ok(recs.length >= 3, JSON.stringify(recs));
    assert.deepEqual(
      recs.map((r) => r.type),
      recs.map((_, i) => specTypes[i % specTypes.length]),
    );
    await allReady(sup.client, 20_000);
  });

  it('halt stops injection across two running campaigns until resume-all', async () => {
    const tq = uniqueId('chaos-halt');
    const mk = (n: string) =>
      loopInput(n, 120, {
        schedule: { type: 'fixed', interval: '500ms' },
        faults: [
          { type: 'network-delay', selector: { app: 'cartservice' }, duration: '1s', params: { latency: '10ms' } },
        ] as never,
      });
    const a = mk('halt-a');
    const b = mk('halt-b');
    await withWorker(tq, async () => {
      const [ha, hb] = await Promise.all([start(tq, a), start(tq, b)]);
      const applied = (x: ChaosLoopInput) =>
        readFaultLogEvents(faultLogPath(x.dataDir)).filter((e) => e.ev === 'applied');
      await waitUntil(() => applied(a).length >= 2 && applied(b).length >= 2, 30_000, 'both loops injecting');
      // what `faultline chaos halt` does: the marker, then a signal to every running chaosLoop
      writeHalt('test: halt everything');
      const haltedAt = Date.now();
      await waitUntil(
        async () => {
          const r = await signalRunningChaosLoops(t.client, 'halt', 'test: halt everything');
          return r.signalled.includes(ha.workflowId) && r.signalled.includes(hb.workflowId);
        },
        20_000,
        'both loops listed as running',
      );
      await waitUntil(
        async () => (await ha.query(chaosProgressQuery)).halted && (await hb.query(chaosProgressQuery)).halted,
        10_000,
        'both halted',
      );
      await waitUntil(noLiveEffects, 5000, 'faults removed on halt');
      const countA = applied(a).length;
      const countB = applied(b).length;
      await new Promise((r) => setTimeout(r, 3000)); // a stretch in which 6 faults per loop were planned
      assert.equal(applied(a).length, countA, 'campaign A injected while halted');
      assert.equal(applied(b).length, countB, 'campaign B injected while halted');
      for (const x of [a, b]) assert.ok(applied(x).every((e) => e.ts <= haltedAt + 200));
      // `faultline chaos resume-all`
      clearHalt();
      await signalRunningChaosLoops(t.client, 'unhalt', '');
      await waitUntil(
        () => applied(a).length > countA && applied(b).length > countB,
        20_000,
        'both loops injecting again',
      );
      await Promise.all([ha.signal(stopSignal), hb.signal(stopSignal)]);
      await Promise.all([ha.result(), hb.result()]);
    });
    checkLog(a.dataDir);
    checkLog(b.dataDir);
  });

  it('aborts the chaos phase on an SLO breach, removes every fault and records why', async () => {
    const prom = await startFakePrometheus();
    try {
      const tq = uniqueId('chaos-abort');
      const input = loopInput(
        'abort',
        120,
        {
          schedule: { type: 'fixed', interval: '500ms' },
          faults: [{ type: 'http-abort', selector: { app: 'frontend' }, duration: '20s' }] as never,
          abort: {
            slos: [
              {
                name: 'frontend-errors',
                query: 'sum(rate(http_errors_total[30s]))',
                op: '>',
                threshold: 0.5,
                for: '1s',
              },
            ],
            checkInterval: '250ms',
          },
        },
        prom.url,
      );
      const r = await withWorker(tq, async () => {
        const h = await start(tq, input);
        await waitUntil(
          () => readFaultLogEvents(faultLogPath(input.dataDir)).some((e) => e.ev === 'applied'),
          30_000,
          'a fault applied',
        );
        prom.set(3); // the error rate goes past the SLO
        return (await h.result()) as ChaosLoopResult;
      });
      assert.match(r.aborted?.reason ?? '', /SLO "frontend-errors".*breached/);
      assert.ok(prom.queries.includes('sum(rate(http_errors_total[30s]))'));
      assert.ok(readFaultLogEvents(faultLogPath(input.dataDir)).some((e) => e.ev === 'aborted'));
      checkLog(input.dataDir);
      assert.ok(await noLiveEffects());
    } finally {
      await prom.close();
    }
  });

  it("survives a worker SIGKILL mid-batch: the loop moves to the other worker's queue, no fault injected twice, none left active, no gap in the log", async function () {
    this.timeout(180_000);
    const tq = uniqueId('chaos-crash');
    const input = loopInput('crash', 30, {
      faults: [
        { type: 'pod-kill', weight: 2, selector: { app: 'cartservice' }, duration: '5s' },
        {
          type: 'network-delay',
          weight: 1,
          selector: { app: 'cartservice' },
          duration: '4s',
          params: { latency: '50ms' },
        },
      ] as never,
      batchSize: 40, // one batch: the crash lands mid-batch
    });
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: t.address,
      TEMPORAL_NAMESPACE: t.namespace,
      CHAOS_TASK_QUEUE: tq,
      FAULTLINE_HOME: home,
    };
    const script = join(__dirname, 'chaos-fixture-worker.js');
    const spawnWorker = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`worker exited ${code}`)));
        child.stdout?.on('data', (d: Buffer) => d.toString().includes('worker ready') && resolve());
      });
      return child;
    };
    // two worker processes, as a deployment runs them: one dies mid-batch, the other takes the retry
    let child = await spawnWorker();
    const standby = await spawnWorker();
    try {
      // workflows here, activities only in the child process
      await withWorker(
        tq,
        async () => {
          const h = await start(tq, input);
          const applied = () =>
            readFaultLogEvents(faultLogPath(input.dataDir)).filter((e) => e.ev === 'applied').length;
          await waitUntil(() => applied() >= 5, 30_000, '5 faults applied');
          // the batch runs on whichever worker took it: kill that one (the one whose pid heartbeats the batch)
          const batchPid = await runningActivityWorkerPid(h.workflowId);
          const victim = batchPid === standby.pid ? standby : child;
          const survivor = victim === child ? standby : child;
          victim.kill('SIGKILL');
          const killedAt = Date.now();
          console.log(`      worker ${victim.pid} SIGKILLed mid-batch after ${applied()} faults`);
          const before = applied();
          await waitUntil(() => applied() > before, 30_000, 'injection resumed on the other worker');
          console.log(
            `      injection resumed ${Date.now() - killedAt} ms after the kill (heartbeat timeout 5 s, then 5 s unpicked on the dead worker's queue)`,
          );
          child = survivor;
          await h.result();
          // the loop's batches ran on the victim's own queue; its lost batch started again on the survivor's
          const hist = await t.client.workflow.getHandle(h.workflowId, h.firstExecutionRunId).fetchHistory();
          const batchQueues = new Set<string>();
          let hostAsks = 0;
          let lostHost = 0;
          for (const e of hist.events ?? []) {
            const a = e.activityTaskScheduledEventAttributes;
            if (a?.activityType?.name === 'injectFaultBatch') batchQueues.add(a.taskQueue?.name ?? '');
            if (a?.activityType?.name === 'chaosHostQueue') hostAsks++;
            const f = e.activityTaskTimedOutEventAttributes?.failure?.timeoutFailureInfo;
            if (decodeTimeoutType(f?.timeoutType) === 'SCHEDULE_TO_START') lostHost++;
          }
          assert.ok(
            batchQueues.size >= 2 && [...batchQueues].every((q) => q.startsWith(`${tq}/chaos-host/`)),
            [...batchQueues].join(', '),
          );
          assert.ok(hostAsks >= 2 && lostHost >= 1, `host asked ${hostAsks}×, lost ${lostHost}×`);
          if (process.env.CHAOS_DEBUG) {
            const hist = await t.client.workflow.getHandle(h.workflowId, h.firstExecutionRunId).fetchHistory();
            for (const e of hist.events ?? []) {
              const ms = Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6);
              const a = e.activityTaskStartedEventAttributes;
              const to = e.activityTaskTimedOutEventAttributes;
              console.log(
                `        ${new Date(ms).toISOString()} ${e.eventType} ${a ? `attempt ${a.attempt} ${a.identity}` : ''} ${to ? JSON.stringify(to.failure?.message) : ''}`,
              );
            }
            for (const e of readFaultLogEvents(faultLogPath(input.dataDir)))
              console.log(`        ${new Date(e.ts).toISOString()} ${e.ev} ${'id' in e ? e.id : ''}`);
          }
        },
        { activities: false },
      );
    } finally {
      child.kill('SIGKILL');
      standby.kill('SIGKILL');
    }
    const recs = checkLog(input.dataDir);
    const notApplied = recs.filter((r) => r.appliedMs === undefined);
    // a fault may fail for cause (its pod vanished before the retry applied it); none may be dropped for the outage
    const missed = notApplied.filter((r) => /^missed/.test(r.error ?? ''));
    console.log(
      `      ${recs.length} planned, ${recs.length - notApplied.length} applied, ${notApplied.length} not applied (${notApplied.map((r) => r.error).join('; ')})`,
    );
    assert.ok(recs.length >= 14);
    assert.deepEqual(missed, [], 'faults planned during the outage are injected late (≤ maxLateness), not dropped');
    assert.ok(notApplied.length <= 1, `${notApplied.length} faults not applied`);
    assert.ok(await noLiveEffects());
    await allReady(sup.client, 20_000);
  });
});
