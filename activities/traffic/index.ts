import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { trafficSchema } from '../../schemas/traffic';
import { ms } from '../../schemas/duration';
import type { LoadRunInput, LoadRunSummary } from './types';
import { LoadEngine } from './engine';
import { nowMs } from './http-client';
import { Recorder } from './recorder';
import { aggregateRows, aggregateText, writeTimeSeries, type AggregateRow } from './report';
import { TrafficErrors } from './errors';

export { TrafficErrors } from './errors';
export type { LoadRunInput, LoadRunSummary } from './types';

/** Heartbeat details: enough to resume the run after a worker crash. */
export interface LoadHeartbeat {
  v: 1;
  originMs: number;
  endAtMs: number;
  jtlPath: string;
  seed: number;
  sent: number;
  errors: number;
  elapsedMs: number;
  attempt: number;
}

/** The full summary written to summary.json (LoadRunSummary plus the report's detail). */
export interface LoadRunReport extends LoadRunSummary {
  status: 'completed' | 'cancelled';
  model: 'closed' | 'open';
  users: number;
  ratePerSec?: number;
  /** latency from the actual send time; differs from latencyMs only in the open model */
  serviceTimeMs: LoadRunSummary['latencyMs'];
  errorsByKind: Record<string, number>;
  labels: AggregateRow[];
  /** open model: arrivals still queued for a free slot when the run ended */
  notSent: number;
  /** how many times the run was resumed after a crash */
  resumes: number;
  aggregatePath: string;
  timeseriesPath: string;
}

export interface RunHooks {
  signal?: AbortSignal;
  heartbeat?: (details: LoadHeartbeat) => void;
  resumeFrom?: LoadHeartbeat;
}

export function trafficDir(dataDir: string, phase: string): string {
  return path.join(dataDir, 'traffic', phase);
}

function validate(input: LoadRunInput): LoadRunInput {
  const parsed = trafficSchema.safeParse(input.traffic ?? {});
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid traffic config: ${parsed.error.message}`,
      TrafficErrors.InvalidConfig,
    );
  }
  if (!/^[A-Za-z0-9_-]+$/.test(input.phase)) {
    throw ApplicationFailure.nonRetryable(
      `phase "${input.phase}" must be letters, digits, - or _`,
      TrafficErrors.InvalidConfig,
    );
  }
  try {
    new URL(input.frontendUrl);
  } catch {
    throw ApplicationFailure.nonRetryable(
      `frontendUrl "${input.frontendUrl}" is not a URL`,
      TrafficErrors.InvalidConfig,
    );
  }
  return { ...input, traffic: parsed.data };
}

/**
 * Runs the load for `durationMs` and writes requests.jtl, summary.json, aggregate.txt and
 * timeseries.csv under <dataDir>/traffic/<phase>/. With `resumeFrom` it re-reads the JTL written so
 * far, appends to it and ends at the original end time (the phase keeps its place on the campaign's
 * timeline). Outside Temporal too (bench, CLI).
 */
export async function runLoadRun(rawInput: LoadRunInput, hooks: RunHooks = {}): Promise<LoadRunReport> {
  const input = validate(rawInput);
  const cfg = input.traffic;
  const dir = trafficDir(input.dataDir, input.phase);
  fs.mkdirSync(dir, { recursive: true });
  const jtlPath = path.join(dir, 'requests.jtl');
  const resume = hooks.resumeFrom?.v === 1 && hooks.resumeFrom.jtlPath === jtlPath ? hooks.resumeFrom : undefined;
  if (!resume && fs.existsSync(jtlPath)) fs.rmSync(jtlPath);
  const recorder = resume ? Recorder.resume(jtlPath) : new Recorder(jtlPath);
  const originMs = resume?.originMs ?? Date.now();
  const endAtMs = resume?.endAtMs ?? originMs + input.durationMs;
  const seed = resume ? resume.seed + 1 : (cfg.seed ?? Math.floor(Math.random() * 2 ** 31));
  const attempt = (resume?.attempt ?? 0) + (resume ? 1 : 0);
  const base = { sent: recorder.total.count, errors: recorder.total.errors };

  const engine = new LoadEngine({
    baseUrl: input.frontendUrl,
    config: cfg,
    originMs,
    endAtMs,
    recorder,
    signal: hooks.signal,
    seed,
  });
  const beat = (): void =>
    hooks.heartbeat?.({
      v: 1,
      originMs,
      endAtMs,
      jtlPath,
      seed,
      sent: base.sent + engine.progress.sent,
      errors: base.errors + engine.progress.errors,
      elapsedMs: Math.round(nowMs() - originMs),
      attempt,
    });
  beat();
  const hb = setInterval(beat, ms(cfg.heartbeatInterval));
  try {
    await engine.run();
  } finally {
    clearInterval(hb);
    await recorder.close();
  }
  beat();

  const { rows, total } = aggregateRows(recorder);
  const summaryPath = path.join(dir, 'summary.json');
  const aggregatePath = path.join(dir, 'aggregate.txt');
  const timeseriesPath = path.join(dir, 'timeseries.csv');
  const endMs = Math.max(Date.now(), 0);
  const report: LoadRunReport = {
    phase: input.phase,
    status: hooks.signal?.aborted ? 'cancelled' : 'completed',
    jtlPath,
    summaryPath,
    aggregatePath,
    timeseriesPath,
    startMs: originMs,
    endMs,
    model: cfg.model,
    users: cfg.users,
    ratePerSec: cfg.model === 'open' ? cfg.ratePerSec : undefined,
    requests: total.samples,
    errors: total.errors,
    throughputPerSec: total.throughputPerSec,
    latencyMs: total.latencyMs,
    serviceTimeMs: total.serviceTimeMs,
    errorsByKind: Object.fromEntries([...recorder.errorsByKind].sort(([a], [b]) => a.localeCompare(b))),
    labels: rows,
    notSent: engine.progress.notSent,
    resumes: attempt,
  };
  fs.writeFileSync(aggregatePath, aggregateText(rows, total));
  writeTimeSeries(recorder, timeseriesPath);
  fs.writeFileSync(summaryPath, JSON.stringify(report, null, 2) + '\n');
  return report;
}

/** Only the LoadRunSummary fields, to keep the activity result small. */
function small(r: LoadRunReport): LoadRunSummary {
  const { phase, jtlPath, summaryPath, startMs, endMs, requests, errors, throughputPerSec, latencyMs } = r;
  return { phase, jtlPath, summaryPath, startMs, endMs, requests, errors, throughputPerSec, latencyMs };
}

function onPath(exe: string): string | undefined {
  if (exe.includes('/')) return fs.existsSync(exe) ? exe : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, exe);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not in this PATH entry
    }
  }
  return undefined;
}

export interface TrafficDeps {
  /** where progress lines go (default: the activity logger) */
  log?: (message: string, attrs?: Record<string, unknown>) => void;
}

export function createTrafficActivities(deps: TrafficDeps = {}) {
  const log = (m: string, a?: Record<string, unknown>): void => {
    if (deps.log) deps.log(m, a);
    else Context.current().log.info(m, a);
  };

  /**
   * The load generator as an activity: heartbeats progress ({ sent, errors, elapsedMs } plus resume
   * state), resumes from heartbeat details after a worker crash, and on cancellation stops at once,
   * flushes the JTL and summary, then rethrows the cancellation.
   */
  async function runLoad(input: LoadRunInput): Promise<LoadRunSummary> {
    const ctx = Context.current();
    const resumeFrom = ctx.info.heartbeatDetails as LoadHeartbeat | undefined;
    if (resumeFrom) log('resuming load run', { phase: input.phase, sent: resumeFrom.sent });
    const report = await runLoadRun(input, {
      signal: ctx.cancellationSignal,
      heartbeat: (d) => ctx.heartbeat(d),
      resumeFrom,
    });
    if (ctx.cancellationSignal.aborted) {
      const reason: unknown = ctx.cancellationSignal.reason;
      throw reason instanceof CancelledFailure ? reason : new CancelledFailure('load run cancelled');
    }
    log('load run done', { phase: input.phase, requests: report.requests, errors: report.errors });
    return small(report);
  }

  /**
   * Runs the user's own JMeter plan (`traffic.jmx`) in non-GUI mode for the phase, with
   * -Jhost/-Jport/-Jprotocol/-Jduration (seconds) set from the input, and summarises its JTL like
   * runLoad's. Fails with JMeterNotInstalled when no jmeter executable is found.
   */
  async function runJmx(rawInput: LoadRunInput): Promise<LoadRunSummary> {
    const input = validate(rawInput);
    const cfg = input.traffic;
    if (!cfg.jmx)
      throw ApplicationFailure.nonRetryable(
        'traffic.jmx is not set: give the path of a .jmx test plan',
        TrafficErrors.InvalidConfig,
      );
    if (!fs.existsSync(cfg.jmx))
      throw ApplicationFailure.nonRetryable(`JMeter test plan ${cfg.jmx} does not exist`, TrafficErrors.InvalidConfig);
    const exe = onPath(cfg.jmeterPath);
    if (!exe) {
      throw ApplicationFailure.nonRetryable(
        `JMeter is not installed: no "${cfg.jmeterPath}" executable on PATH. Install Apache JMeter 5.x (and a JRE) and put bin/jmeter on PATH, or set traffic.jmeterPath; or use the built-in generator (runLoad).`,
        TrafficErrors.JMeterNotInstalled,
      );
    }
    const ctx = Context.current();
    const dir = trafficDir(input.dataDir, input.phase);
    fs.mkdirSync(dir, { recursive: true });
    const jtlPath = path.join(dir, 'jmeter.jtl');
    fs.rmSync(jtlPath, { force: true });
    const url = new URL(input.frontendUrl);
    const props: Record<string, string> = {
      host: url.hostname,
      port: url.port || (url.protocol === 'https:' ? '443' : '80'),
      protocol: url.protocol.replace(':', ''),
      duration: String(Math.ceil(input.durationMs / 1000)),
      ...cfg.jmeterProperties,
    };
    const args = [
      '-n',
      '-t',
      cfg.jmx,
      '-l',
      jtlPath,
      '-j',
      path.join(dir, 'jmeter.log'),
      '-Jjmeter.save.saveservice.output_format=csv',
    ];
    for (const [k, v] of Object.entries(props)) args.push(`-J${k}=${v}`);
    const startMs = Date.now();
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'], signal: ctx.cancellationSignal });
      let tail = '';
      const keep = (b: Buffer): void => {
        tail = (tail + b.toString()).slice(-4000);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const hb = setInterval(() => ctx.heartbeat({ elapsedMs: Date.now() - startMs }), 2000);
      child.on('error', (err) => {
        clearInterval(hb);
        reject(err);
      });
      child.on('close', (c) => {
        clearInterval(hb);
        if (c !== 0 && !ctx.cancellationSignal.aborted) {
          reject(
            ApplicationFailure.create({
              message: `jmeter exited with ${c}: ${tail}`,
              type: TrafficErrors.JMeterFailed,
            }),
          );
        } else resolve(c ?? 0);
      });
    });
    if (ctx.cancellationSignal.aborted) throw new CancelledFailure('JMeter run cancelled');
    log('jmeter finished', { code });
    const rec = Recorder.resume(jtlPath);
    await rec.close();
    const { rows, total } = aggregateRows(rec);
    const summaryPath = path.join(dir, 'jmeter-summary.json');
    const summary: LoadRunSummary = {
      phase: input.phase,
      jtlPath,
      summaryPath,
      startMs,
      endMs: Date.now(),
      requests: total.samples,
      errors: total.errors,
      throughputPerSec: total.throughputPerSec,
      latencyMs: total.latencyMs,
    };
    fs.writeFileSync(
      summaryPath,
      JSON.stringify({ ...summary, labels: rows, errorsByKind: Object.fromEntries(rec.errorsByKind) }, null, 2),
    );
    fs.writeFileSync(path.join(dir, 'jmeter-aggregate.txt'), aggregateText(rows, total));
    return summary;
  }

  return { runLoad, runJmx };
}
