import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { browserSchema } from '../../schemas/browser';
import { ms } from '../../schemas/duration';
import type { BrowserProbeInput, BrowserProbeSummary } from './types';
import { openBrowser, type BrowserSession } from './driver';
import { errorText, runJourney, type JourneyResult } from './journey';
import { writeJunit } from './junit';
import { readRuns, type ProbeRun } from './runs';

export type { ProbeRun } from './runs';
export type { BrowserProbeInput, BrowserProbeSummary } from './types';
export { JOURNEY_STEPS } from './journey';
export { DEVICES, kbpsToBytesPerSec } from './devices';

export interface ProbeHeartbeat {
  v: 1;
  originMs: number;
  endAtMs: number;
  runs: number;
  passed: number;
  failed: number;
}

export interface ProbeHooks {
  signal?: AbortSignal;
  heartbeat?: (d: ProbeHeartbeat) => void;
  resumeFrom?: ProbeHeartbeat;
  /** run the journey at most this many times (tests; default: until the duration is over) */
  maxRuns?: number;
}

export function browserDir(dataDir: string, phase: string): string {
  return path.join(dataDir, 'browser', phase);
}

/**
 * Repeats the journey every `interval` until `durationMs` has passed, appending each run to
 * runs.jsonl and rewriting junit.xml; screenshots go to <dataDir>/browser/<phase>/. One browser
 * serves all runs (cookies are cleared before each, so each run is a new shopper with an empty cart);
 * if a run fails because the browser itself broke, the next run starts a fresh one. The browser is
 * always quit, and its processes killed, before this returns or throws.
 */
export async function runProbe(raw: BrowserProbeInput, hooks: ProbeHooks = {}): Promise<BrowserProbeSummary> {
  const parsed = browserSchema.safeParse(raw.browser ?? {});
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(`invalid browser config: ${parsed.error.message}`, 'InvalidConfig');
  if (!/^[A-Za-z0-9_-]+$/.test(raw.phase))
    throw ApplicationFailure.nonRetryable(`phase "${raw.phase}" must be letters, digits, - or _`, 'InvalidConfig');
  const cfg = parsed.data;
  const dir = browserDir(raw.dataDir, raw.phase);
  fs.mkdirSync(dir, { recursive: true });
  const runsPath = path.join(dir, 'runs.jsonl');
  const junitPath = path.join(dir, 'junit.xml');
  const resume = hooks.resumeFrom?.v === 1 ? hooks.resumeFrom : undefined;
  if (!resume) fs.rmSync(runsPath, { force: true });
  const runs: ProbeRun[] = resume ? readRuns(runsPath) : [];
  const originMs = resume?.originMs ?? Date.now();
  const endAtMs = resume?.endAtMs ?? originMs + raw.durationMs;
  const intervalMs = ms(cfg.interval);
  const baseUrl = raw.frontendUrl.replace(/\/$/, '');
  const signal = hooks.signal;

  let session: BrowserSession | undefined;
  // cancellation quits the browser at once, which also ends any selenium call in progress
  const onAbort = (): void => void session?.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  const counts = (): ProbeHeartbeat => ({
    v: 1,
    originMs,
    endAtMs,
    runs: runs.length,
    passed: runs.filter((r) => r.ok).length,
    failed: runs.filter((r) => !r.ok).length,
  });
  const beat = setInterval(() => hooks.heartbeat?.(counts()), 2000);
  hooks.heartbeat?.(counts());
  try {
    let nextStart = Date.now();
    let done = 0;
    while (!signal?.aborted && Date.now() < endAtMs && (hooks.maxRuns === undefined || done < hooks.maxRuns)) {
      const n = runs.length + 1;
      const prefix = `run-${String(n).padStart(4, '0')}`;
      let result: JourneyResult;
      try {
        if (!session) session = await openBrowser(cfg);
        await session.driver.manage().deleteAllCookies();
        result = await runJourney(session.driver, {
          baseUrl,
          stepTimeoutMs: ms(cfg.stepTimeout),
          quantity: cfg.quantity,
          shotDir: dir,
          shotPrefix: prefix,
          everyStep: cfg.screenshots === 'all' || (cfg.screenshots === 'first-run' && n === 1),
        });
      } catch (err) {
        // the browser could not start or died: a failed run, and a new browser next time
        const now = Date.now();
        result = {
          ok: false,
          startMs: now,
          endMs: now,
          steps: [],
          failedStep: undefined,
          assertion: 'the browser starts and answers',
          error: errorText(err),
        };
        await session?.close();
        session = undefined;
      }
      if (signal?.aborted) break; // a run cut short by cancellation says nothing about the system
      const record: ProbeRun = { run: n, profile: session?.profile ?? { name: cfg.profile }, ...result };
      runs.push(record);
      done++;
      fs.appendFileSync(runsPath, JSON.stringify(record) + '\n');
      writeJunit(junitPath, `browser.${raw.phase}`, runs);
      hooks.heartbeat?.(counts());
      nextStart += intervalMs;
      if (nextStart < Date.now()) nextStart = Date.now(); // overran the interval: start the next at once
      const wait = Math.min(nextStart, endAtMs) - Date.now();
      if (wait > 0 && (hooks.maxRuns === undefined || done < hooks.maxRuns)) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(finish, wait);
          function finish(): void {
            clearTimeout(t);
            signal?.removeEventListener('abort', finish);
            resolve();
          }
          signal?.addEventListener('abort', finish, { once: true });
        });
      }
    }
  } finally {
    clearInterval(beat);
    signal?.removeEventListener('abort', onAbort);
    await session?.close();
    writeJunit(junitPath, `browser.${raw.phase}`, runs);
  }
  const passed = runs.filter((r) => r.ok);
  const summary: BrowserProbeSummary = {
    phase: raw.phase,
    runs: runs.length,
    passed: passed.length,
    failed: runs.length - passed.length,
    availability: runs.length ? passed.length / runs.length : 0,
    meanJourneyMs: passed.length
      ? Math.round(passed.reduce((a, r) => a + (r.endMs - r.startMs), 0) / passed.length)
      : 0,
    runsPath,
    junitPath,
  };
  fs.writeFileSync(
    path.join(dir, 'summary.json'),
    JSON.stringify({ ...summary, profile: cfg.profile, status: signal?.aborted ? 'cancelled' : 'completed' }, null, 2) +
      '\n',
  );
  return summary;
}

export interface BrowserDeps {
  log?: (message: string, attrs?: Record<string, unknown>) => void;
}

export function createBrowserActivities(deps: BrowserDeps = {}) {
  const log = (m: string, a?: Record<string, unknown>): void => {
    if (deps.log) deps.log(m, a);
    else Context.current().log.info(m, a);
  };

  /**
   * The browser probe as an activity: heartbeats { runs, passed, failed }, resumes after a worker
   * crash (appending to runs.jsonl until the original end time), and on cancellation quits the
   * browser, writes what it has, then rethrows the cancellation.
   */
  async function runBrowserProbe(input: BrowserProbeInput): Promise<BrowserProbeSummary> {
    const ctx = Context.current();
    const summary = await runProbe(input, {
      signal: ctx.cancellationSignal,
      heartbeat: (d) => ctx.heartbeat(d),
      resumeFrom: ctx.info.heartbeatDetails as ProbeHeartbeat | undefined,
    });
    if (ctx.cancellationSignal.aborted) {
      const reason: unknown = ctx.cancellationSignal.reason;
      throw reason instanceof CancelledFailure ? reason : new CancelledFailure('browser probe cancelled');
    }
    log('browser probe done', { phase: input.phase, runs: summary.runs, availability: summary.availability });
    return summary;
  }

  return { runBrowserProbe };
}
