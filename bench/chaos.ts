/**
 * Chaos loop benchmark:
 *  - schedule adherence: applied − planned (ms) per injected fault, p50 / p99 / max, at the reference cadence
 *    (uniform 1–2 s, pod-kill dominated mix) through the real path — Temporal dev server, chaosLoop workflow,
 *    heartbeating batch activity, the real local supervisor with small HTTP pods;
 *  - history events per hour of campaign: events over every run of the loop (continue-as-new bounds each run);
 *  - where lateness comes from: by position in its batch activity (a batch boundary shows at position 0), the
 *    wake-up vs the target's apply time, the worker's event-loop delay and stalls around each fault, the load
 *    average during the run (FAULTLINE_BENCH_CHAOS_DETAIL=file.jsonl writes one line per fault).
 * Run alone: `nice -n 10 node lib/bench/chaos.js` (FAULTLINE_BENCH_CHAOS_S, default 120 s;
 * FAULTLINE_BENCH_CHAOS_MAX_EVENTS, default the config's 400).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer, stopDevServer } from '../infra/temporal/dev-server';
import { chaosSchema } from '../schemas/faults';
import { createChaosActivities } from '../activities/chaos';
import { createChaosHostWorker } from '../workers/chaos-host-worker';
import { readFaultLog, readFaultLogEvents } from '../activities/chaos/fault-log';
import { faultLogPath } from '../activities/chaos/paths';
import type { ChaosLoopInput, ChaosLoopResult } from '../activities/chaos/types';
import { chaosWorkflowId } from '../workflows/messages';
import { freePort } from '../test/helpers/ports';
import { startTestSupervisor } from '../test/chaos-support';

export interface ChaosBenchResult {
  durationS: number;
  planned: number;
  applied: number;
  adherenceMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Split of adherence: the wake-up (apply call started − planned) and the target's apply time. */
  dispatchLatenessMs: { p50: number; p99: number };
  applyDurationMs: { p50: number; p99: number };
  /** Lateness by position in its batch activity: the first fault of a batch pays any hand-over gap. */
  byPosition: Record<'first' | 'rest', { n: number; p50: number; p99: number; max: number }>;
  /** The worker process's event-loop delay over the run (perf_hooks histogram, 10 ms resolution). */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** 1-min load average sampled every 5 s during the run. */
  load1: { min: number; mean: number; max: number };
  /** The latest faults with what was going on around them. */
  worst: {
    id: string;
    pos: number;
    latenessMs: number;
    wakeMs: number;
    applyMs: number;
    stallMs: number;
    load1: number;
  }[];
  runs: number;
  historyEvents: number;
  maxEventsPerRun: number;
  historyEventsPerHour: number;
  loadAverage: number[];
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

export async function run(): Promise<ChaosBenchResult> {
  const durationS = Number(process.env.FAULTLINE_BENCH_CHAOS_S ?? 120);
  const maxEvents = process.env.FAULTLINE_BENCH_CHAOS_MAX_EVENTS
    ? Number(process.env.FAULTLINE_BENCH_CHAOS_MAX_EVENTS)
    : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'faultline-bench-chaos-'));
  const prevHome = process.env.FAULTLINE_HOME;
  process.env.FAULTLINE_HOME = join(dir, 'home');
  const serverDir = join(dir, 'temporal');
  mkdirSync(serverDir, { recursive: true });
  const [server, sup, bundle] = await Promise.all([
    startDevServer({ dir: serverDir, port: await freePort(), headless: true }),
    startTestSupervisor(
      [
        { app: 'frontend', replicas: 1 },
        { app: 'cartservice', replicas: 2 },
        { app: 'currencyservice', replicas: 1 },
      ],
      { ownProcess: true },
    ),
    bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows/chaos-loop'),
      logger: {
        log: () => undefined,
        trace: () => undefined,
        debug: () => undefined,
        info: () => undefined,
        warn: () => undefined,
        error: (m: string) => console.error(m),
      },
    }),
  ]);
  const connection = await Connection.connect({ address: server.address });
  const native = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  const taskQueue = 'bench-chaos';
  try {
    // as workers/main.ts: the loop's batches run on this process's own chaos queue
    const host = await createChaosHostWorker({ connection: native, namespace: server.namespace, baseQueue: taskQueue });
    const worker = await Worker.create({
      connection: native,
      namespace: server.namespace,
      taskQueue,
      workflowBundle: bundle,
      activities: { ...createChaosActivities(), ...host.sharedActivities },
    });
    const campaignId = `bench-chaos-${Date.now()}`;
    const startMs = Date.now() + 2000;
    const input: ChaosLoopInput = {
      campaignId,
      dataDir: join(dir, 'campaigns', campaignId),
      target: { type: 'local' } as never,
      endpoints: {
        kind: 'local',
        frontendUrl: sup.serviceUrl.frontend ?? '',
        prometheusUrl: 'http://127.0.0.1:1',
        supervisorUrl: sup.url,
      },
      chaos: chaosSchema.parse({
        seed: 42,
        episodes: null,
        schedule: { type: 'uniform', min: '1s', max: '2s' },
        faults: [
          { type: 'pod-kill', weight: 6, duration: '10s' },
          { type: 'network-delay', weight: 1, duration: '5s', params: { latency: '50ms' } },
          { type: 'http-abort', weight: 1, duration: '3s', selector: { app: 'frontend' }, params: { percent: 50 } },
        ],
        guard: { allowedNamespaces: ['default'], maxConcurrent: 8 },
        ...(maxEvents ? { maxHistoryEvents: maxEvents } : {}),
      }),
      startMs,
      endMs: startMs + durationS * 1000,
    };
    const workflowId = chaosWorkflowId(campaignId);
    // what the worker process and the host were doing: event-loop stalls (with when) and the load average
    const eld = monitorEventLoopDelay({ resolution: 10 });
    eld.enable();
    const stalls: { at: number; ms: number }[] = [];
    let tick = Date.now();
    const stallTimer = setInterval(() => {
      const now = Date.now();
      if (now - tick > 30) stalls.push({ at: now, ms: now - tick - 10 });
      tick = now;
    }, 10);
    const loads: { at: number; l: number }[] = [];
    const loadTimer = setInterval(() => loads.push({ at: Date.now(), l: loadavg()[0] ?? 0 }), 5000);
    await host.worker.runUntil(
      worker.runUntil(async () => {
        const h = await client.workflow.start('chaosLoop', { taskQueue, workflowId, args: [input] });
        (await h.result()) as ChaosLoopResult;
      }),
    );
    clearInterval(stallTimer);
    clearInterval(loadTimer);
    eld.disable();
    const recs = readFaultLog(faultLogPath(input.dataDir));
    const lat = recs
      .filter((r) => r.appliedMs !== undefined)
      .map((r) => (r.appliedMs as number) - r.plannedMs)
      .sort((a, b) => a - b);
    const applied = readFaultLogEvents(faultLogPath(input.dataDir)).flatMap((e) =>
      e.ev === 'applied' && e.startedMs !== undefined ? [e] : [],
    );
    const plannedById = new Map(recs.map((r) => [r.id, r.plannedMs]));
    const wake = applied.map((e) => (e.startedMs as number) - (plannedById.get(e.id) ?? 0)).sort((a, b) => a - b);
    const dur = applied.map((e) => e.ts - (e.startedMs as number)).sort((a, b) => a - b);
    let runs = 0;
    let historyEvents = 0;
    let maxEventsPerRun = 0;
    /** fault id → position in the batch activity that carried it (from the scheduled activities' inputs). */
    const position = new Map<string, number>();
    for await (const ex of client.workflow.list({ query: `WorkflowId="${workflowId}"` })) {
      runs++;
      historyEvents += ex.historyLength;
      maxEventsPerRun = Math.max(maxEventsPerRun, ex.historyLength);
      const hist = await client.workflow.getHandle(workflowId, ex.runId).fetchHistory();
      for (const e of hist.events ?? []) {
        const a = e.activityTaskScheduledEventAttributes;
        if (a?.activityType?.name !== 'injectFaultBatch') continue;
        const data = a.input?.payloads?.[0]?.data;
        if (!data) continue;
        const arg = JSON.parse(Buffer.from(data).toString('utf8')) as { faults: { id: string }[] };
        arg.faults.forEach((f, i) => position.set(f.id, i));
      }
    }
    const appliedById = new Map(applied.map((e) => [e.id, e]));
    const detail = recs
      .filter((r) => r.appliedMs !== undefined)
      .map((r) => {
        const a = appliedById.get(r.id);
        const appliedMs = r.appliedMs as number;
        const near = loads.reduce((b, x) => (Math.abs(x.at - r.plannedMs) < Math.abs(b.at - r.plannedMs) ? x : b), {
          at: 0,
          l: NaN,
        });
        return {
          id: r.id,
          pos: position.get(r.id) ?? -1,
          latenessMs: appliedMs - r.plannedMs,
          wakeMs: a?.startedMs !== undefined ? a.startedMs - r.plannedMs : NaN,
          applyMs: a?.startedMs !== undefined ? a.ts - a.startedMs : NaN,
          stallMs: stalls
            .filter((x) => x.at >= r.plannedMs - 500 && x.at - x.ms <= appliedMs)
            .reduce((m, x) => Math.max(m, x.ms), 0),
          load1: Math.round(near.l * 10) / 10,
        };
      });
    const posStats = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return { n: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1] ?? NaN };
    };
    if (process.env.FAULTLINE_BENCH_CHAOS_DETAIL)
      writeFileSync(process.env.FAULTLINE_BENCH_CHAOS_DETAIL, detail.map((d) => JSON.stringify(d)).join('\n'));
    const ms = (ns: number) => Math.round(ns / 1e5) / 10;
    const loadValues = loads.map((x) => x.l);
    const result: ChaosBenchResult = {
      durationS,
      planned: recs.length,
      applied: lat.length,
      adherenceMs: {
        p50: quantile(lat, 0.5),
        p90: quantile(lat, 0.9),
        p99: quantile(lat, 0.99),
        max: lat[lat.length - 1] ?? NaN,
        mean: Math.round((lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length)) * 10) / 10,
      },
      dispatchLatenessMs: { p50: quantile(wake, 0.5), p99: quantile(wake, 0.99) },
      applyDurationMs: { p50: quantile(dur, 0.5), p99: quantile(dur, 0.99) },
      byPosition: {
        first: posStats(detail.filter((d) => d.pos === 0).map((d) => d.latenessMs)),
        rest: posStats(detail.filter((d) => d.pos !== 0).map((d) => d.latenessMs)),
      },
      eventLoopDelayMs: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) },
      load1: {
        min: Math.round(Math.min(...loadValues) * 10) / 10,
        mean: Math.round((loadValues.reduce((a, b) => a + b, 0) / Math.max(1, loadValues.length)) * 10) / 10,
        max: Math.round(Math.max(...loadValues) * 10) / 10,
      },
      worst: [...detail].sort((a, b) => b.latenessMs - a.latenessMs).slice(0, 5),
      runs,
      historyEvents,
      maxEventsPerRun,
      historyEventsPerHour: Math.round((historyEvents * 3600) / durationS),
      loadAverage: loadavg().map((x) => Math.round(x * 10) / 10),
    };
    return result;
  } finally {
    await native.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
    await sup.stop();
    await stopDevServer(serverDir);
    if (prevHome === undefined) delete process.env.FAULTLINE_HOME;
    else process.env.FAULTLINE_HOME = prevHome;
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  run().then(
    (r) => {
      console.log(JSON.stringify(r, null, 2));
      mkdirSync(join(__dirname, '..', '..', 'bench', 'results'), { recursive: true });
      writeFileSync(
        join(__dirname, '..', '..', 'bench', 'results', `chaos-${r.durationS}s.json`),
        JSON.stringify(r, null, 2),
      );
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
