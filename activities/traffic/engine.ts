import * as http from 'node:http';
import type { TrafficConfig } from '../../schemas/traffic';
import { ms } from '../../schemas/duration';
import { CookieJar, nowMs, send, type HttpResult, type RequestSpec } from './http-client';
import { RawClient, type RawConnection } from './raw-client';

/**
 * Sends one request for a session (its cookie jar is bound in) and calls `done` with its result, never
 * synchronously. Callbacks, not promises: a closed-model user chains its requests from the response
 * callbacks, so the hot path allocates no promise per request.
 */
type Sender = (spec: RequestSpec, done: (r: HttpResult) => void) => void;

/** The locustfile's on_start request. */
const START_INDEX: RequestSpec[] = [{ label: 'index', method: 'GET', path: '/' }];

/**
 * Where sessions' requests go. `own`: the session keeps one kept-alive connection of its own (a
 * closed-model user, as a JMeter thread with "Use KeepAlive"); otherwise it borrows one from a pool of
 * at most `maxConnections` shared by all sessions (the open model).
 */
interface Transport {
  sender(jar: CookieJar, own: boolean): Sender;
  /** ends every request in flight as 'aborted' */
  abortAll(): void;
  destroy(): void;
}
import { taskPicker, taskRequests } from './boutique-journeys';
import { mulberry32 } from '../random';
import type { Recorder, Sample } from './recorder';

export interface EngineOptions {
  baseUrl: string;
  config: TrafficConfig;
  /** when the run began (first attempt); ramp-up and open-model arrivals are laid out from here */
  originMs: number;
  /** wall-clock end of the run */
  endAtMs: number;
  recorder: Recorder;
  /** aborts the run at once (activity cancellation): in-flight requests are dropped, not recorded */
  signal?: AbortSignal;
  seed: number;
}

export interface EngineProgress {
  sent: number;
  errors: number;
  inFlight: number;
  activeUsers: number;
  /** open model: arrivals still waiting for a free slot when the run ended (never sent) */
  notSent: number;
}

/**
 * Time (ms after the origin) of the n-th arrival when the rate ramps linearly from 0 to `rate` over
 * `ramp` ms and stays there: the inverse of N(t) = rate·t²/(2·ramp) for t < ramp, rate·(t − ramp/2) after.
 */
export function arrivalOffsetMs(n: number, ratePerMs: number, rampMs: number): number {
  if (rampMs <= 0) return n / ratePerMs;
  const inRamp = (ratePerMs * rampMs) / 2;
  return n < inRamp ? Math.sqrt((2 * rampMs * n) / ratePerMs) : rampMs / 2 + n / ratePerMs;
}

/**
 * Runs virtual users (closed model) or an arrival process (open model) against the frontend until the
 * end time, recording every completed request once. At the end time no new request starts; requests in
 * flight get a short grace period (a second or the request timeout, whichever is less) and are then
 * abandoned, like JMeter's shutdown.
 */
export class LoadEngine {
  readonly progress: EngineProgress = { sent: 0, errors: 0, inFlight: 0, activeUsers: 0, notSent: 0 };
  /** no new requests after this fires */
  private readonly stopping = new AbortController();
  /** in-flight requests abort when this fires */
  private readonly hardStop = new AbortController();
  /** wakers of the pending sleeps (think times, ramp-up, arrivals), all called when stopping */
  private readonly sleepers = new Set<() => void>();
  /** the run's transport, whose requests in flight a hard stop aborts */
  private transportInUse: Transport | undefined;
  private readonly base: URL;
  /** BASE_URL path without a trailing slash, and origin + that path (the JTL URL's prefix) */
  private readonly basePath: string;
  private readonly urlPrefix: string;
  /** scenario single: the one request, the same object every time */
  private readonly single: RequestSpec[];
  private readonly timeoutMs: number;
  private readonly thinkMin: number;
  private readonly thinkMax: number;
  private readonly pickTask: ReturnType<typeof taskPicker>;

  constructor(private readonly o: EngineOptions) {
    this.base = new URL(o.baseUrl);
    this.basePath = this.base.pathname.replace(/\/$/, '');
    this.urlPrefix = this.base.origin + this.basePath;
    this.single = [{ label: o.config.path, method: 'GET', path: o.config.path }];
    this.timeoutMs = ms(o.config.requestTimeout);
    this.thinkMin = ms(o.config.thinkTime);
    this.thinkMax = Math.max(this.thinkMin, o.config.thinkTimeMax ? ms(o.config.thinkTimeMax) : this.thinkMin);
    this.pickTask = taskPicker(o.config.weights);
    this.hardStop.signal.addEventListener('abort', () => this.transportInUse?.abortAll());
    this.stopping.signal.addEventListener('abort', () => {
      for (const wake of [...this.sleepers]) wake();
    });
  }

  /**
   * Sleeps `msToWait`, or less when the run stops first; never rejects. (A set of wakers rather than an
   * abort listener per sleep: the open model sleeps before every arrival.)
   */
  private sleep(msToWait: number): Promise<void> {
    if (msToWait <= 0 || this.stopping.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, msToWait);
      this.sleepers.add(wake);
    });
  }

  get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  async run(): Promise<void> {
    const { signal, endAtMs } = this.o;
    const onCancel = (): void => {
      this.stopping.abort();
      this.hardStop.abort();
    };
    if (signal?.aborted) return;
    signal?.addEventListener('abort', onCancel, { once: true });
    const endTimer = setTimeout(() => this.stopping.abort(), Math.max(0, endAtMs - nowMs()));
    let graceTimer: NodeJS.Timeout | undefined;
    this.stopping.signal.addEventListener(
      'abort',
      () => {
        graceTimer = setTimeout(() => this.hardStop.abort(), Math.min(1000, this.timeoutMs));
      },
      { once: true },
    );
    try {
      if (this.o.config.model === 'open') await this.runOpen();
      else await this.runClosed();
    } finally {
      clearTimeout(endTimer);
      clearTimeout(graceTimer);
      signal?.removeEventListener('abort', onCancel);
    }
  }

  /**
   * A transport with at most `maxConnections` pooled kept-alive connections: raw sockets (default) or
   * node:http with keep-alive Agents (`client: node-http`).
   */
  private transport(maxConnections: number): Transport {
    const host = this.base.hostname;
    const port = Number(this.base.port || 80);
    const basePath = this.basePath;
    let t: Transport;
    if (this.o.config.client === 'node-http') {
      const inflight = new Set<() => void>();
      const pool = new http.Agent({ keepAlive: true, maxSockets: maxConnections });
      const agents = [pool];
      t = {
        sender: (jar, own) => {
          let agent = pool;
          if (own) agents.push((agent = new http.Agent({ keepAlive: true, maxSockets: 1 })));
          return (spec, done) =>
            void send(spec, {
              agent,
              host,
              port,
              basePath,
              hostHeader: this.base.host,
              jar,
              timeoutMs: this.timeoutMs,
              inflight,
            }).then(done);
        },
        abortAll: () => {
          for (const abort of [...inflight]) abort();
        },
        destroy: () => {
          for (const a of agents) a.destroy();
        },
      };
    } else {
      const client = new RawClient(host, port, this.base.host, basePath, this.timeoutMs);
      const idle: RawConnection[] = [];
      t = {
        sender: (jar, own) => {
          if (own) {
            const conn = client.connection();
            return (spec, done) => conn.request(spec, jar, done);
          }
          return (spec, done) => {
            const conn = idle.pop() ?? client.connection();
            conn.request(spec, jar, (res) => {
              idle.push(conn);
              done(res);
            });
          };
        },
        abortAll: () => client.abortAll(),
        destroy: () => client.destroy(),
      };
    }
    this.transportInUse = t;
    return t;
  }

  /**
   * Records one completed request; `intendedMs` (open model) is where its latency counts from, `grp`
   * the active threads when it was sent.
   */
  private sample(spec: RequestSpec, res: HttpResult, threadName: string, grp: number, intendedMs?: number): void {
    if (res.errorKind === 'aborted') return; // cut off by stop/cancel: not a result of the system under test
    const t0 = intendedMs !== undefined && intendedMs < res.startMs ? intendedMs : res.startMs;
    const ok = res.status > 0 && res.status < 400;
    const s: Sample = {
      timeStamp: Math.floor(t0),
      elapsed: Math.round(res.endMs - t0),
      label: spec.label,
      responseCode: res.status > 0 ? String(res.status) : `Non HTTP response code: ${res.errorCode ?? 'ERR'}`,
      responseMessage: res.status > 0 ? res.statusMessage : `Non HTTP response message: ${res.errorMessage ?? ''}`,
      threadName,
      success: ok,
      failureMessage: ok ? '' : res.status > 0 ? `HTTP ${res.status}` : (res.errorMessage ?? ''),
      bytes: res.bytes,
      sentBytes: res.sentBytes,
      grpThreads: grp,
      allThreads: grp,
      url: this.urlPrefix + spec.path,
      latency: Math.round(res.firstByteMs - t0),
      idle: Math.round(res.startMs - t0),
      connect: Math.round(res.connectMs),
      errorKind: res.errorKind,
      exactElapsed: res.endMs - t0,
      exactService: res.endMs - res.startMs,
    };
    this.progress.sent++;
    if (!ok) this.progress.errors++;
    this.o.recorder.record(s);
  }

  private thinkMs(r: () => number): number {
    return this.thinkMin + r() * (this.thinkMax - this.thinkMin);
  }

  private tasksOf(r: () => number): RequestSpec[] {
    if (this.o.config.scenario === 'single') return this.single;
    return taskRequests(this.pickTask(r), r, this.urlPrefix + '/');
  }

  private async runClosed(): Promise<void> {
    const { users } = this.o.config;
    const rampMs = ms(this.o.config.rampUp);
    const transport = this.transport(users);
    try {
      await Promise.all(
        Array.from({ length: users }, (_, i) => this.user(i, this.o.originMs + (rampMs * i) / users, transport)),
      );
    } finally {
      transport.destroy();
    }
  }

  private async user(i: number, startAtMs: number, transport: Transport): Promise<void> {
    const stop = this.stopping.signal;
    const hard = this.hardStop.signal;
    await this.sleep(startAtMs - nowMs());
    if (stop.aborted) return;
    const threadName = `boutique 1-${i + 1}`;
    // one connection per virtual user, kept alive, as a JMeter thread with "Use KeepAlive"
    const so = transport.sender(new CookieJar(), true);
    const r = mulberry32(this.o.seed + i * 7919);
    const progress = this.progress;
    // the user's place: the requests of its current task, the next one, the one in flight
    let onStart = this.o.config.onStartIndex && this.o.config.scenario === 'boutique';
    let specs = onStart ? START_INDEX : this.tasksOf(r);
    let k = 0;
    let spec = specs[0] as RequestSpec;
    let grp = 0;
    let think = 0;
    let endStretch: () => void = () => undefined;
    let failStretch: (err: unknown) => void = () => undefined;
    // Sends the next request, or ends the stretch at a think time or the stop. Task after task without
    // think time runs as one stretch: each response's callback records it and sends the next request.
    const next = (): void => {
      for (;;) {
        if (stop.aborted || hard.aborted) return endStretch();
        if (k < specs.length) break;
        // a task is done: think (the start request is followed by the first task at once)
        if (onStart) onStart = false;
        else {
          think = this.thinkMs(r);
          if (think > 0) return endStretch();
        }
        specs = this.tasksOf(r);
        k = 0;
      }
      spec = specs[k++] as RequestSpec;
      grp = progress.activeUsers;
      so(spec, done);
    };
    const done = (res: HttpResult): void => {
      try {
        this.sample(spec, res, threadName, grp);
        next();
      } catch (err) {
        failStretch(err);
      }
    };
    progress.activeUsers++;
    try {
      while (!stop.aborted) {
        await new Promise<void>((resolve, reject) => {
          endStretch = resolve;
          failStretch = reject;
          next();
        });
        if (think <= 0) break; // stopped
        await this.sleep(think);
        think = 0;
        specs = this.tasksOf(r);
        k = 0;
      }
    } finally {
      progress.activeUsers--;
    }
  }

  private async runOpen(): Promise<void> {
    const c = this.o.config;
    const stop = this.stopping.signal;
    const ratePerMs = c.ratePerSec / 1000;
    const rampMs = ms(c.rampUp);
    const transport = this.transport(c.maxInFlight);
    const sessions = Array.from({ length: c.users }, (_, i) => ({
      so: transport.sender(new CookieJar(), false),
      r: mulberry32(this.o.seed + i * 7919),
      name: `boutique 1-${i + 1}`,
    }));
    const r = mulberry32(this.o.seed ^ 0x5bd1e995);
    const queue: number[] = [];
    const running = new Set<Promise<void>>();
    let nextSession = 0;

    const start = (intendedMs: number): void => {
      const session = sessions[nextSession++ % sessions.length] as (typeof sessions)[number];
      this.progress.inFlight++;
      let finished = false;
      const box: { p?: Promise<void> } = {};
      box.p = (async () => {
        try {
          let intended: number | undefined = intendedMs;
          for (const spec of this.tasksOf(session.r)) {
            if (this.hardStop.signal.aborted) break;
            const grp = this.progress.inFlight;
            const res = await new Promise<HttpResult>((resolve) => session.so(spec, resolve));
            this.sample(spec, res, session.name, grp, intended);
            intended = undefined; // later requests of a task follow the previous one, as a user's would
          }
        } finally {
          this.progress.inFlight--;
          finished = true;
          if (box.p) running.delete(box.p);
          const next = queue.shift();
          if (next !== undefined && !stop.aborted) start(next);
        }
      })();
      if (!finished) running.add(box.p);
    };

    // arrivals are laid out from the origin, so a resumed run continues the same schedule
    let t = nowMs() - this.o.originMs;
    let n = c.arrivals === 'uniform' ? Math.ceil(arrivalNumber(t, ratePerMs, rampMs)) : 0;
    let nextOffset = c.arrivals === 'uniform' ? arrivalOffsetMs(n, ratePerMs, rampMs) : t;
    try {
      while (!stop.aborted) {
        const intended = this.o.originMs + nextOffset;
        if (intended >= this.o.endAtMs) break;
        const wait = intended - nowMs();
        if (wait >= 1) await this.sleep(wait);
        if (stop.aborted) break;
        if (this.progress.inFlight < c.maxInFlight) start(intended);
        else queue.push(intended);
        n++;
        if (c.arrivals === 'uniform') nextOffset = arrivalOffsetMs(n, ratePerMs, rampMs);
        else {
          const rate = ratePerMs * Math.max(0.05, rampMs > 0 ? Math.min(1, nextOffset / rampMs) : 1);
          nextOffset += -Math.log(1 - r()) / rate;
        }
        t = nextOffset;
      }
      // let in-flight tasks finish (bounded by the grace period after stopping)
      await this.sleep(Math.max(0, this.o.endAtMs - nowMs()));
      this.stopping.abort();
      while (running.size > 0) await Promise.all([...running]);
    } finally {
      this.progress.notSent += queue.length;
      queue.length = 0;
      transport.destroy();
    }
  }
}

/** N(t): arrivals due by `t` ms after the origin (the inverse of arrivalOffsetMs). */
export function arrivalNumber(t: number, ratePerMs: number, rampMs: number): number {
  if (t <= 0) return 0;
  if (rampMs <= 0) return ratePerMs * t;
  return t < rampMs ? (ratePerMs * t * t) / (2 * rampMs) : ratePerMs * (t - rampMs / 2);
}
