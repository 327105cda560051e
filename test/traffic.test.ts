import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { MockActivityEnvironment } from '@temporalio/testing';
import { CancelledFailure } from '@temporalio/common';
import { createTrafficActivities, type LoadHeartbeat, type LoadRunReport } from '../activities/traffic';
import { JTL_COLUMNS, JTL_HEADER, parseCsvLine } from '../activities/traffic/recorder';
import { checkoutForm, luhnValid, PRODUCT_IDS, taskPicker } from '../activities/traffic/boutique-journeys';
import { mulberry32 } from '../activities/random';
import { arrivalNumber, arrivalOffsetMs } from '../activities/traffic/engine';
import { trafficSchema, type TrafficConfigInput } from '../schemas/traffic';
import type { LoadRunInput } from '../activities/traffic/types';
import { startBoutique, type BoutiqueStack } from './helpers/boutique-procs';
import { waitUntil } from './helpers/ports';

const activities = createTrafficActivities({ log: () => undefined });

/** Runs an activity in a mock activity context, keeping its result type. */
const runIn = <T>(env: MockActivityEnvironment, fn: () => Promise<T>): Promise<T> =>
  env.run<[], T, () => Promise<T>>(fn);

function input(
  dataDir: string,
  phase: string,
  frontendUrl: string,
  durationMs: number,
  traffic: TrafficConfigInput,
): LoadRunInput {
  return { campaignId: 'test', dataDir, phase, frontendUrl, durationMs, traffic: trafficSchema.parse(traffic) };
}

interface Row {
  timeStamp: number;
  elapsed: number;
  label: string;
  responseCode: string;
  success: boolean;
  latency: number;
  idle: number;
  connect: number;
  url: string;
  bytes: number;
}

/** Reads a JTL and checks every row has the 17 columns. */
function readJtl(file: string): { header: string; rows: Row[] } {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.at(-1), '', 'the JTL ends with a newline');
  const rows = lines.slice(1, -1).map((line, i) => {
    const f = parseCsvLine(line);
    assert.ok(f && f.length === JTL_COLUMNS.length, `row ${i + 1} has ${JTL_COLUMNS.length} columns: ${line}`);
    return {
      timeStamp: Number(f[0]),
      elapsed: Number(f[1]),
      label: f[2] as string,
      responseCode: f[3] as string,
      success: f[7] === 'true',
      latency: Number(f[14]),
      idle: Number(f[15]),
      connect: Number(f[16]),
      url: f[13] as string,
      bytes: Number(f[9]),
    };
  });
  return { header: lines[0] ?? '', rows };
}

const readReport = (p: string): LoadRunReport => JSON.parse(fs.readFileSync(p, 'utf8')) as LoadRunReport;

function assertOrdered(l: LoadRunReport['latencyMs'], what: string): void {
  const seq = [l.min, l.p50, l.p90, l.p95, l.p99, l.max];
  for (let i = 1; i < seq.length; i++)
    assert.ok((seq[i - 1] as number) <= (seq[i] as number), `${what} percentiles ordered: ${JSON.stringify(l)}`);
  assert.ok(l.min <= l.mean && l.mean <= l.max, `${what} mean within [min, max]`);
}

async function plainServer(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const srv = http.createServer(handler);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

describe('traffic: journeys and config', () => {
  it('fills checkout forms with Luhn-valid VISA numbers and real product ids', () => {
    const r = mulberry32(42);
    for (let i = 0; i < 200; i++) {
      const f = checkoutForm(r);
      assert.match(f.credit_card_number ?? '', /^4\d{15}$/);
      assert.ok(luhnValid(f.credit_card_number ?? ''), f.credit_card_number);
      assert.ok(Number(f.credit_card_expiration_year) > new Date().getUTCFullYear());
    }
    assert.equal(PRODUCT_IDS.length, 9);
  });

  it('picks tasks in the locustfile proportions (1:2:10:2:3:1)', () => {
    const pick = taskPicker(trafficSchema.parse({}).weights);
    const r = mulberry32(7);
    const n: Record<string, number> = {};
    for (let i = 0; i < 19_000; i++) {
      const t = pick(r);
      n[t] = (n[t] ?? 0) + 1;
    }
    assert.ok(Math.abs((n.browseProduct ?? 0) / 19_000 - 10 / 19) < 0.02, JSON.stringify(n));
    assert.ok(Math.abs((n.checkout ?? 0) / 19_000 - 1 / 19) < 0.01, JSON.stringify(n));
  });

  it('lays out open-model arrivals along the ramp and back', () => {
    for (const n of [0, 5, 50, 500]) {
      assert.ok(Math.abs(arrivalNumber(arrivalOffsetMs(n, 0.06, 5000), 0.06, 5000) - n) < 1e-6);
    }
    assert.equal(arrivalOffsetMs(60, 0.06, 0), 1000);
  });

  it('rejects bad traffic configs with the field named', () => {
    assert.throws(() => trafficSchema.parse({ users: 0 }), /users/);
    assert.throws(
      () =>
        trafficSchema.parse({
          weights: { index: 0, setCurrency: 0, browseProduct: 0, addToCart: 0, viewCart: 0, checkout: 0 },
        }),
      /weight/,
    );
    assert.throws(() => trafficSchema.parse({ rampUp: '5 parsecs' }), /duration/);
  });
});

describe('traffic: load run against the local boutique', function () {
  let stack: BoutiqueStack;
  let dir: string;
  before(async function () {
    this.timeout(90_000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-traffic-'));
    stack = await startBoutique();
  });
  after(async () => {
    await stack?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a JTL and summary that add up over 20 s, and counts errors when services are killed', async function () {
    this.timeout(90_000);
    const env = new MockActivityEnvironment();
    const beats: LoadHeartbeat[] = [];
    env.on('heartbeat', (d: LoadHeartbeat) => beats.push(d));
    const t0 = Date.now();
    let killedCurrencyAt = 0;
    let killedFrontendAt = 0;
    // currencyservice killed once 50 requests went through and back once the generator has counted errors
    // (the frontend answers 500 meanwhile), the frontend itself gone from 16 s
    const chaos = (async () => {
      await waitUntil(() => (beats.at(-1)?.sent ?? 0) >= 50, 10_000, '50 requests before the first kill');
      killedCurrencyAt = Date.now();
      await stack.procs.get('currencyservice')?.kill();
      await waitUntil(() => (beats.at(-1)?.errors ?? 0) > 0, 8000, 'errors counted while currencyservice is down');
      await stack.restart('currencyservice');
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + 16_000 - Date.now())));
      killedFrontendAt = Date.now();
      await stack.procs.get('frontend')?.kill();
    })();
    const summary = await runIn(env, () =>
      activities.runLoad(
        input(dir, 'baseline', stack.frontendUrl, 20_000, {
          users: 8,
          rampUp: '2s',
          thinkTime: '100ms',
          thinkTimeMax: '400ms',
          requestTimeout: '3s',
          seed: 1,
        }),
      ),
    );
    await chaos;
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 20_000 && elapsed < 25_000, `ran ${elapsed} ms`);

    const { header, rows } = readJtl(summary.jtlPath);
    assert.equal(header, JTL_HEADER);
    const report = readReport(summary.summaryPath);
    // counts add up: JTL rows = summary requests = Σ labels = Σ per-second; errors = failed rows = Σ kinds
    assert.equal(rows.length, summary.requests);
    assert.equal(
      report.labels.reduce((a, l) => a + l.samples, 0),
      summary.requests,
    );
    const failed = rows.filter((r) => !r.success);
    assert.equal(failed.length, summary.errors);
    assert.equal(
      report.labels.reduce((a, l) => a + l.errors, 0),
      summary.errors,
    );
    assert.equal(
      Object.values(report.errorsByKind).reduce((a, n) => a + n, 0),
      summary.errors,
    );
    const series = fs
      .readFileSync(report.timeseriesPath, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',').map(Number));
    assert.equal(
      series.reduce((a, s) => a + (s[1] as number), 0),
      summary.requests,
    );
    assert.equal(
      series.reduce((a, s) => a + (s[2] as number), 0),
      summary.errors,
    );
    assert.ok(summary.requests > 100, `${summary.requests} requests`);
    // every task of the upstream mix was exercised, with real ids and the right routes
    for (const label of ['index', 'setCurrency', 'browseProduct', 'addToCart', 'viewCart', 'checkout']) {
      assert.ok(
        report.labels.some((l) => l.label === label && l.samples > 0),
        `label ${label} present`,
      );
    }
    assert.ok(
      rows
        .filter((r) => r.label === 'browseProduct')
        .every((r) => PRODUCT_IDS.some((id) => r.url.endsWith(`/product/${id}`))),
    );
    assert.ok(
      rows.some((r) => r.label === 'addToCart' && r.responseCode === '302'),
      'POST /cart answers 302',
    );
    assert.ok(
      rows.some((r) => r.label === 'checkout' && r.responseCode === '200'),
      'a checkout succeeded',
    );
    // percentiles ordered, per label and overall
    assertOrdered(summary.latencyMs, 'overall');
    for (const l of report.labels) assertOrdered(l.latencyMs, l.label);
    assert.ok(summary.throughputPerSec > 0);
    // rows are within the run and Latency ≤ elapsed
    for (const r of rows) {
      assert.ok(r.timeStamp >= summary.startMs - 1 && r.timeStamp <= summary.endMs, 'row inside the run');
      assert.ok(r.latency <= r.elapsed + 1 && r.idle === 0, 'closed model: Latency ≤ elapsed, no idle');
    }
    // the kills show up as errors of the right kinds, and only after the kills
    assert.ok(
      (report.errorsByKind.http_500 ?? 0) > 0,
      `HTTP 500 while currencyservice was down: ${JSON.stringify(report.errorsByKind)}`,
    );
    assert.ok(
      (report.errorsByKind.connection_refused ?? 0) > 0,
      `connection refused once the frontend was gone: ${JSON.stringify(report.errorsByKind)}`,
    );
    const firstError = Math.min(...failed.map((r) => r.timeStamp + r.elapsed));
    assert.ok(firstError >= killedCurrencyAt - 50, 'no errors before the first kill');
    assert.ok(killedFrontendAt > 0);
    assert.ok(
      failed
        .filter((r) => r.responseCode.startsWith('Non HTTP'))
        .every((r) => r.timeStamp + r.elapsed >= killedFrontendAt - 50),
    );
    // heartbeats carried progress
    assert.ok(beats.length >= 5, `${beats.length} heartbeats`);
    assert.equal(beats.at(-1)?.sent, summary.requests);
    // the aggregate report has a TOTAL row with the same count
    const agg = fs.readFileSync(report.aggregatePath, 'utf8');
    assert.match(agg, new RegExp(`^TOTAL\\s+${summary.requests}\\s`, 'm'));
  });
});

describe('traffic: open model, cancellation and resume', function () {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-traffic-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('measures open-model latency from the intended send time (no coordinated omission)', async function () {
    this.timeout(30_000);
    // a server that takes 100 ms per request; with one request in flight at most, the client can send
    // 10/s while 20/s are due, so arrivals queue in the client and their wait must be counted
    const slow = await plainServer((req, res) => {
      req.resume();
      setTimeout(() => res.end('slow'), 100);
    });
    try {
      const env = new MockActivityEnvironment();
      const summary = await runIn(env, () =>
        activities.runLoad(
          input(dir, 'open', slow.url, 3000, {
            model: 'open',
            ratePerSec: 20,
            maxInFlight: 1,
            rampUp: '0s',
            scenario: 'single',
            path: '/slow',
            seed: 2,
          }),
        ),
      );
      const report = readReport(summary.summaryPath);
      const { rows } = readJtl(summary.jtlPath);
      assert.ok(rows.length >= 20 && rows.length <= 32, `${rows.length} rows`);
      // timeStamps follow the 50 ms schedule although sends could only go every 100 ms
      const gaps = rows.slice(1).map((r, i) => r.timeStamp - (rows[i] as Row).timeStamp);
      assert.ok(
        gaps.every((g) => g >= 48 && g <= 52),
        `intended times 50 ms apart: ${gaps.join(' ')}`,
      );
      // the wait before sending (IdleTime) grows and is part of elapsed
      assert.ok((rows.at(-1) as Row).idle > 900, `last request waited ${(rows.at(-1) as Row).idle} ms to be sent`);
      for (const r of rows) assert.ok(r.elapsed >= r.idle + 95, 'elapsed = wait + service time');
      // service time alone (what a coordinated-omission tool reports) stays ~100 ms; latency does not
      assert.ok(report.serviceTimeMs.p99 < 250, `service p99 ${report.serviceTimeMs.p99}`);
      assert.ok(summary.latencyMs.p99 > 1000, `latency p99 from intended time ${summary.latencyMs.p99}`);
      assert.ok(summary.latencyMs.p50 > 3 * report.serviceTimeMs.p50);
      assert.ok(report.notSent > 0, 'arrivals still queued at the end are reported');
    } finally {
      await slow.close();
    }
  });

  it('stops promptly on cancellation, flushes the JTL, and resumes from heartbeat details appending to it', async function () {
    this.timeout(30_000);
    const fast = await plainServer((req, res) => {
      req.resume();
      res.end('ok');
    });
    try {
      const cfg = { users: 4, rampUp: '0s', thinkTime: '20ms', heartbeatInterval: '200ms', seed: 3 } as const;
      const run1 = new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 });
      let last: LoadHeartbeat | undefined;
      run1.on('heartbeat', (d: LoadHeartbeat) => (last = d));
      const started = Date.now();
      const p1 = runIn(run1, () => activities.runLoad(input(dir, 'resume', fast.url, 4000, cfg)));
      await new Promise((r) => setTimeout(r, 1200));
      const cancelAt = Date.now();
      run1.cancel();
      await assert.rejects(p1, (err) => err instanceof CancelledFailure);
      assert.ok(Date.now() - cancelAt < 1000, `stopped ${Date.now() - cancelAt} ms after cancel`);
      const jtl = path.join(dir, 'traffic', 'resume', 'requests.jtl');
      const partial = readReport(path.join(dir, 'traffic', 'resume', 'summary.json'));
      assert.equal(partial.status, 'cancelled');
      const before = readJtl(jtl).rows.length;
      assert.equal(before, partial.requests);
      assert.ok(last && last.sent > 0 && last.sent <= before);

      // a crash leaves half a row; the resumed attempt cuts it and appends after the last whole row
      fs.appendFileSync(jtl, '1795000000000,12,index,2');
      const run2 = new MockActivityEnvironment({ heartbeatDetails: last, attempt: 2 });
      const summary = await runIn(run2, () => activities.runLoad(input(dir, 'resume', fast.url, 4000, cfg)));
      const ended = Date.now();
      assert.ok(ended - started >= 3900 && ended - started < 6000, 'ends at the original end time');
      const { header, rows } = readJtl(jtl);
      assert.equal(header, JTL_HEADER);
      assert.equal(fs.readFileSync(jtl, 'utf8').split(JTL_HEADER).length, 2, 'one header');
      assert.ok(rows.length > before);
      assert.equal(summary.requests, rows.length, 'the summary covers both attempts');
      assert.equal(readReport(summary.summaryPath).resumes, 1);
      assert.equal(summary.startMs, last.originMs);
    } finally {
      await fast.close();
    }
  });

  it('reads chunked, length-delimited and close-delimited bodies on the raw client as node:http does', async function () {
    this.timeout(30_000);
    let n = 0;
    const body = 'x'.repeat(5000);
    const srv = await plainServer((req, res) => {
      req.resume();
      const kind = n++ % 3;
      if (kind === 0) {
        res.write(body.slice(0, 1234)); // two writes: Transfer-Encoding: chunked
        setTimeout(() => res.end(body.slice(1234)), 2);
      } else if (kind === 1) {
        res.setHeader('content-length', body.length);
        res.end(body);
      } else {
        res.setHeader('connection', 'close'); // body ends when the socket closes
        res.write(body);
        res.end();
      }
    });
    try {
      for (const client of ['raw', 'node-http'] as const) {
        const env = new MockActivityEnvironment();
        const summary = await runIn(env, () =>
          activities.runLoad(
            input(dir, `client-${client}`, srv.url, 1500, {
              client,
              users: 3,
              rampUp: '0s',
              thinkTime: '0ms',
              scenario: 'single',
            }),
          ),
        );
        const { rows } = readJtl(summary.jtlPath);
        assert.equal(summary.errors, 0, `${client}: ${JSON.stringify(readReport(summary.summaryPath).errorsByKind)}`);
        assert.ok(rows.length > 30, `${client}: ${rows.length} requests`);
        // JTL bytes: the whole response, headers and (de-chunked or raw) body; 5000 body bytes plus headers
        for (const r of rows) assert.ok(r.bytes > 5000 && r.bytes < 5400, `${client}: ${r.bytes} bytes in a response`);
      }
    } finally {
      await srv.close();
    }
  });

  it('reads responses that arrive in pieces, and times out a silent server within a tenth of the timeout', async function () {
    this.timeout(30_000);
    // a raw server sending each response in several writes: /length cut inside the status line, a
    // header name and the blank line; /chunked cut inside a size line, chunk data, the last chunk and
    // the final blank line (after a trailer); /silent never answers
    const responses: Record<string, { text: string; cuts: number[] }> = {
      '/length': {
        text: 'HTTP/1.1 201 Made\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\n\r\nhello',
        cuts: [3, 24, 52, 56],
      },
      '/chunked': {
        text: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1a;x=1\r\n${'a'.repeat(26)}\r\n0\r\nT: t\r\n\r\n`,
        cuts: [50, 58, 60, 75, 92, 100, 103],
      },
    };
    const srv = net.createServer((sock) => {
      let pending = '';
      sock.setNoDelay(true);
      sock.on('data', (d: Buffer) => {
        pending += d.toString('latin1');
        for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
          const path = pending.slice(4, pending.indexOf(' ', 4));
          pending = pending.slice(end + 4);
          const r = responses[path];
          if (!r) continue;
          const bounds = [0, ...r.cuts, r.text.length];
          const parts = bounds.slice(1).map((e, i) => r.text.slice(bounds[i], e));
          void (async () => {
            for (const part of parts) {
              sock.write(part);
              await new Promise((res) => setTimeout(res, 3));
            }
          })();
        }
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      const env = new MockActivityEnvironment();
      for (const [path, { text }] of Object.entries(responses)) {
        const pieces = await runIn(env, () =>
          activities.runLoad(
            input(dir, `pieces${path.replace('/', '-')}`, url, 1000, {
              users: 2,
              rampUp: '0s',
              thinkTime: '0ms',
              scenario: 'single',
              path,
            }),
          ),
        );
        const { rows } = readJtl(pieces.jtlPath);
        assert.equal(pieces.errors, 0, `${path}: ${JSON.stringify(readReport(pieces.summaryPath).errorsByKind)}`);
        assert.ok(rows.length > 10, `${path}: ${rows.length} requests`);
        for (const r of rows) {
          assert.equal(r.responseCode, text.slice(9, 12));
          assert.equal(r.bytes, text.length);
          assert.ok(r.latency < r.elapsed || r.elapsed === 0, 'first byte before the last');
        }
      }

      const silent = await runIn(env, () =>
        activities.runLoad(
          input(dir, 'silent', url, 1000, {
            users: 1,
            rampUp: '0s',
            thinkTime: '0ms',
            scenario: 'single',
            path: '/silent',
            requestTimeout: '200ms',
          }),
        ),
      );
      const report = readReport(silent.summaryPath);
      const timeouts = readJtl(silent.jtlPath).rows;
      assert.ok(timeouts.length >= 3, `${timeouts.length} timeouts`);
      assert.equal(report.errorsByKind.timeout, timeouts.length);
      for (const r of timeouts) {
        assert.equal(r.responseCode, 'Non HTTP response code: ETIMEDOUT');
        assert.ok(r.elapsed >= 199 && r.elapsed <= 260, `timed out after ${r.elapsed} ms`);
      }
    } finally {
      srv.close();
    }
  });

  it('says clearly that JMeter is not installed when running a .jmx without it', async () => {
    const jmx = path.join(dir, 'plan.jmx');
    fs.writeFileSync(jmx, '<jmeterTestPlan version="1.2"/>');
    const env = new MockActivityEnvironment();
    await assert.rejects(
      runIn(env, () =>
        activities.runJmx(
          input(dir, 'jmx', 'http://127.0.0.1:1', 1000, { jmx, jmeterPath: 'jmeter-not-installed-here' }),
        ),
      ),
      (err: Error & { type?: string }) =>
        err.type === 'JMeterNotInstalled' && /JMeter is not installed/.test(err.message),
    );
  });
});
