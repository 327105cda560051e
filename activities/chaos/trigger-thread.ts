import { Worker } from 'node:worker_threads';

/**
 * A request fired at an exact instant from a thread of its own. The worker's main event loop also runs
 * heartbeats, log writes, other activities (traffic, datasets) and garbage collection; a fault planned for
 * 12:00:00.000 must not wait behind them. The main thread hands the prepared request over a little early; this
 * thread, which does nothing else, sleeps to just before the instant, turns on setImmediate for the last
 * milliseconds, sends it on a kept-alive socket and timestamps the send and the answer itself. It runs at nice
 * FAULTLINE_TRIGGER_NICE (default -10) where the process may raise a thread's priority (root, CAP_SYS_NICE).
 */
export interface TimedRequest {
  /** Epoch ms; 0 = now. */
  at: number;
  method: string;
  url: string;
  body?: string;
  timeoutMs: number;
  /** Checked by the thread right before it sends: the request is refused (not sent) while either says stop. */
  guard?: FireGuard;
}

/** The halt marker and the campaign's cleanup fence (see halt.ts), read at the instant of firing. */
export interface FireGuard {
  haltPath: string;
  fencePath: string;
  /** The batch's epoch: a fence of this epoch or later refuses. */
  epoch: number;
}

export interface TimedResponse {
  startedMs: number;
  endedMs: number;
  status?: number;
  text?: string;
  error?: string;
  /** Set when the guard refused: why (the request was not sent). */
  refused?: string;
}

const SOURCE = `
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
const fs = require('node:fs');
// the same rules as halt.ts: an unreadable halt marker still means halted; an unreadable fence means none
const refusal = (g) => {
  if (!g) return undefined;
  try {
    return 'halted: ' + JSON.parse(fs.readFileSync(g.haltPath, 'utf8')).reason;
  } catch (e) {
    if (!e || e.code !== 'ENOENT') return 'halted: unreadable halt marker (' + String(e) + ')';
  }
  try {
    const f = JSON.parse(fs.readFileSync(g.fencePath, 'utf8'));
    if (f.epoch >= g.epoch) return 'fenced: ' + f.reason;
  } catch (e) {}
  return undefined;
};
const agent = new http.Agent({ keepAlive: true, maxSockets: 16, timeout: 2000 });
// this thread sleeps but for a few ms per fault: a higher priority (this thread only, where permitted) lets it
// run on time on a busy host without taking CPU from anyone
try {
  require('node:os').setPriority(NICE);
} catch (e) {}
const when = (at, fn) => {
  const left = at - Date.now();
  if (left > 3) setTimeout(() => when(at, fn), left - 3);
  else if (left > 0) setImmediate(() => when(at, fn));
  else fn();
};
parentPort.on('message', (m) => {
  when(m.at, () => {
    const refused = refusal(m.guard);
    if (refused) {
      parentPort.postMessage({ id: m.id, startedMs: Date.now(), endedMs: Date.now(), refused });
      return;
    }
    const startedMs = Date.now();
    let done = false;
    let timer;
    const finish = (r) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      parentPort.postMessage(Object.assign({ id: m.id, startedMs, endedMs: Date.now() }, r));
    };
    let req;
    try {
      const headers = m.body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(m.body) };
      req = http.request(m.url, { method: m.method, agent, headers }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', (e) => finish({ error: e.message }));
        res.on('end', () => finish({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      });
    } catch (e) {
      finish({ error: e.message });
      return;
    }
    timer = setTimeout(() => req.destroy(new Error('timed out after ' + m.timeoutMs + ' ms')), m.timeoutMs);
    req.on('error', (e) => finish({ error: e.message }));
    req.end(m.body);
  });
});
`;

let thread: Worker | undefined;
let nextId = 0;
const pending = new Map<number, { resolve: (r: TimedResponse) => void; reject: (e: Error) => void }>();

function getThread(): Worker {
  if (thread) return thread;
  const nice = Number(process.env.FAULTLINE_TRIGGER_NICE ?? -10);
  const t = new Worker(SOURCE.replace('NICE', String(Number.isFinite(nice) ? nice : 0)), { eval: true });
  t.unref(); // never keeps a worker process alive on its own
  t.on('message', (m: TimedResponse & { id: number }) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (pending.size === 0) t.unref();
    p?.resolve(m);
  });
  const fail = (err: Error) => {
    if (thread === t) thread = undefined;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  t.on('error', fail);
  t.on('exit', (code) => fail(new Error(`trigger thread exited (${code})`)));
  thread = t;
  return t;
}

/** Sends `req` at `req.at` from the trigger thread; resolves with the thread's own timestamps. */
export function fireAt(req: TimedRequest): Promise<TimedResponse> {
  const t = getThread();
  const id = nextId++;
  return new Promise<TimedResponse>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    t.ref(); // a request in flight keeps the process up until it is answered
    t.postMessage({ id, ...req });
  });
}
