import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as http from 'node:http';
import * as path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { CancelledFailure } from '@temporalio/common';
import { createBrowserActivities, runProbe, type ProbeHeartbeat, type ProbeRun } from '../activities/browser';
import { kbpsToBytesPerSec, resolveDevice } from '../activities/browser/devices';
import { openBrowser } from '../activities/browser/driver';
import { documentGone } from '../activities/browser/journey';
import { By, error as seleniumError, type WebElement } from 'selenium-webdriver';
import { browserSchema, type BrowserConfigInput } from '../schemas/browser';
import type { BrowserProbeInput, BrowserProbeSummary } from '../activities/browser/types';
import { startBoutique, type BoutiqueStack } from './helpers/boutique-procs';
import { freePort, waitUntil } from './helpers/ports';
import { HttpProxy } from '../infra/local/proxy/http-proxy';
import { FaultTable } from '../infra/local/proxy/faults';

const activities = createBrowserActivities({ log: () => undefined });

function probeInput(
  dataDir: string,
  phase: string,
  frontendUrl: string,
  browser: BrowserConfigInput,
  durationMs = 120_000,
): BrowserProbeInput {
  return { campaignId: 'test', dataDir, phase, frontendUrl, durationMs, browser: browserSchema.parse(browser) };
}

const readRuns = (s: BrowserProbeSummary): ProbeRun[] =>
  fs
    .readFileSync(s.runsPath, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ProbeRun);

/** Width of a PNG from its IHDR chunk. */
function pngWidth(file: string): number {
  const b = fs.readFileSync(file);
  assert.equal(b.subarray(1, 4).toString(), 'PNG', `${file} is a PNG`);
  return b.readUInt32BE(16);
}

/** Pids of chromium/chromedriver processes descended from this test process. */
function browserDescendants(): number[] {
  const parent = new Map<number, number>();
  const name = new Map<number, string>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      name.set(Number(e), stat.slice(stat.indexOf('(') + 1, close));
      parent.set(Number(e), Number(stat.slice(close + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const mine = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  return [...name].filter(([pid, n]) => /chrom/i.test(n) && mine(pid)).map(([pid]) => pid);
}

describe('browser: devices and throttling units', () => {
  it('converts kbps to the bytes per second CDP expects (50 kbps = 6250 B/s)', () => {
    assert.equal(kbpsToBytesPerSec(50), 6250);
    const cfg = browserSchema.parse({ profile: 'mobile-throttled' });
    assert.equal(cfg.throttling.latency, '3000ms');
    assert.equal(cfg.throttling.downloadKbps, 50);
  });
  it('knows named phones and refuses unknown ones with the list', () => {
    assert.equal(resolveDevice('iphone 12').width, 390);
    assert.throws(() => resolveDevice('Nokia 3310'), /Pixel 7/);
    assert.equal(resolveDevice('x', { width: 360, height: 640, pixelRatio: 2, touch: true, mobile: true }).width, 360);
  });
});

describe('browser: journey against the local boutique', function () {
  let stack: BoutiqueStack;
  let dir: string;
  let desktopRttMs: number | undefined;
  before(async function () {
    this.timeout(90_000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-browser-'));
    stack = await startBoutique();
  });
  after(async () => {
    await stack?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    // quit() returns before chromedriver has finished exiting; it must be gone within moments
    await waitUntil(() => browserDescendants().length === 0, 5000, 'no chromium or chromedriver left running');
  });

  it('passes the journey on desktop with a screenshot per step and JUnit XML', async function () {
    this.timeout(90_000);
    const s = await runProbe(
      probeInput(dir, 'desktop', stack.frontendUrl, { profile: 'desktop', screenshots: 'all' }),
      { maxRuns: 1 },
    );
    const [run] = readRuns(s);
    assert.ok(run, 'one run recorded');
    assert.equal(run.ok, true, `journey failed at ${run.failedStep}: ${run.assertion} — ${run.error}`);
    assert.deepEqual(
      run.steps.map((x) => x.name),
      ['home', 'product', 'add-to-cart', 'cart', 'checkout-form', 'order-confirmation'],
    );
    assert.match(run.orderId ?? '', /^[0-9a-f-]{36}$/);
    for (const step of run.steps) {
      assert.ok(
        step.ms >= 0 && step.screenshot && fs.existsSync(step.screenshot),
        `${step.name} timed and photographed`,
      );
      assert.equal(path.dirname(step.screenshot), path.join(dir, 'browser', 'desktop'));
    }
    assert.equal(pngWidth(run.steps[0]?.screenshot ?? ''), 1366);
    assert.deepEqual([s.runs, s.passed, s.failed, s.availability], [1, 1, 0, 1]);
    desktopRttMs = run.rttMs;
    const xml = fs.readFileSync(s.junitPath, 'utf8');
    assert.match(xml, /<testsuites name="browser.desktop" tests="6" failures="0"/);
    assert.equal((xml.match(/<testcase /g) ?? []).length, 6);
  });

  it('passes the journey with mobile emulation of a named phone', async function () {
    this.timeout(90_000);
    const s = await runProbe(
      probeInput(dir, 'mobile', stack.frontendUrl, { profile: 'mobile', device: 'Pixel 7', screenshots: 'all' }),
      { maxRuns: 1 },
    );
    const [run] = readRuns(s);
    assert.ok(run?.ok, `journey failed at ${run?.failedStep}: ${run?.assertion} — ${run?.error}`);
    assert.deepEqual(run.profile, { name: 'mobile', device: 'Pixel 7', width: 412, height: 915 });
    // the screenshot is the phone's viewport in device pixels (412 CSS px × 2.625)
    const w = pngWidth(run.steps[0]?.screenshot ?? '');
    assert.ok(w === 412 || Math.abs(w - 412 * 2.625) <= 1, `mobile screenshot width ${w}`);
  });

  it('passes the journey on a throttled network, and the throttling shows in the timings', async function () {
    this.timeout(120_000);
    // the reference's 3000 ms would make the test take minutes; 600 ms still proves it is applied
    const s = await runProbe(
      probeInput(dir, 'throttled', stack.frontendUrl, {
        profile: 'mobile-throttled',
        device: 'iPhone 12',
        throttling: { latency: '600ms', downloadKbps: 4000, uploadKbps: 2000 },
        stepTimeout: '30s',
      }),
      { maxRuns: 1 },
    );
    const [run] = readRuns(s);
    assert.ok(run?.ok, `journey failed at ${run?.failedStep}: ${run?.assertion} — ${run?.error}`);
    assert.deepEqual(run.profile, {
      name: 'mobile-throttled',
      device: 'iPhone 12',
      width: 390,
      height: 844,
      throttling: { latencyMs: 600, downloadBytesPerSec: 500_000, uploadBytesPerSec: 250_000 },
    });
    // the page's own round trip to /_healthz carries the emulated latency (unthrottled it is a few ms)
    assert.ok((run.rttMs ?? 0) >= 590, `page round trip ${run.rttMs} ms ≥ 600 ms latency`);
    assert.ok(desktopRttMs !== undefined && desktopRttMs < 590, `desktop round trip ${desktopRttMs} ms`);
    // each page-loading step needs at least one round trip; adding to the cart needs two (POST, redirect)
    for (const name of ['home', 'product', 'checkout-form']) {
      const st = run.steps.find((x) => x.name === name);
      assert.ok(st && st.ms >= 600, `${name} took ${st?.ms} ms`);
    }
    assert.ok((run.steps.find((x) => x.name === 'add-to-cart')?.ms ?? 0) >= 1200);
  });

  it('heartbeats runs and quits the browser promptly when cancelled', async function () {
    this.timeout(60_000);
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 });
    const beats: ProbeHeartbeat[] = [];
    env.on('heartbeat', (d: ProbeHeartbeat) => beats.push(d));
    const p = env.run(() =>
      activities.runBrowserProbe(probeInput(dir, 'cancel', stack.frontendUrl, { interval: '1s' }, 300_000)),
    );
    await waitUntil(() => beats.some((b) => b.runs >= 1), 45_000, 'a first run');
    await waitUntil(() => browserDescendants().length > 0, 10_000, 'the second run’s browser');
    const t = Date.now();
    env.cancel();
    await assert.rejects(p, (err) => err instanceof CancelledFailure);
    assert.ok(Date.now() - t < 5000, `stopped ${Date.now() - t} ms after cancel`);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'browser', 'cancel', 'summary.json'), 'utf8')) as {
      status: string;
      runs: number;
    };
    assert.equal(summary.status, 'cancelled');
    assert.ok(summary.runs >= 1);
  });

  it("names a fault proxy's error answer (status and words) instead of a missing element", async function () {
    this.timeout(60_000);
    // the local target's real frontend Service proxy, with an http-abort on every request
    const faults = new FaultTable();
    faults.put('frontend', 'f000001', {
      kind: 'http-abort',
      statusCode: 503,
      percent: 100,
      expiresAtMs: Date.now() + 60_000,
    });
    const port = await freePort();
    const frontendPort = Number(new URL(stack.frontendUrl).port);
    const proxy = new HttpProxy(
      'frontend',
      '127.0.0.1',
      port,
      { readyPorts: () => [frontendPort], podAt: () => 'frontend-0' },
      faults,
      {
        connection: () => undefined,
        noEndpoint: () => undefined,
        httpResponse: () => undefined,
        httpDuration: () => undefined,
        podBytes: () => undefined,
      },
      1000,
    );
    await proxy.listen();
    try {
      const s = await runProbe(probeInput(dir, 'aborted', `http://127.0.0.1:${port}`, { stepTimeout: '3s' }), {
        maxRuns: 1,
      });
      const [run] = readRuns(s);
      assert.equal(run?.ok, false);
      assert.equal(run.failedStep, 'home');
      assert.match(
        run.error ?? '',
        /the server answered HTTP 503 \("fault injected: http-abort 503"\) at http:\/\/127\.0\.0\.1:\d+\//,
      );
      assert.doesNotMatch(run.error ?? '', /px wide/);
    } finally {
      await proxy.close();
    }
  });

  it('fails at the home step with the assertion and a screenshot when the frontend is down', async function () {
    this.timeout(60_000);
    await stack.procs.get('frontend')?.kill();
    const s = await runProbe(probeInput(dir, 'down', stack.frontendUrl, { stepTimeout: '5s' }), { maxRuns: 1 });
    const [run] = readRuns(s);
    assert.ok(run && !run.ok);
    assert.equal(run.failedStep, 'home');
    assert.match(run.assertion ?? '', /GET http:\/\/127\.0\.0\.1:\d+\/ loads/);
    assert.match(run.error ?? '', /could not reach the frontend \(net::ERR_CONNECTION_REFUSED\)/);
    assert.ok(run.screenshot && fs.existsSync(run.screenshot) && /home-FAILED\.png$/.test(run.screenshot));
    pngWidth(run.screenshot);
    assert.deepEqual([s.runs, s.passed, s.failed, s.availability], [1, 0, 1, 0]);
    const xml = fs.readFileSync(s.junitPath, 'utf8');
    assert.match(xml, /<testcase [^>]*name="home"[^>]*>\s*<failure message="GET http:\/\/127\.0\.0\.1:\d+\/ loads"/);
    assert.ok(xml.includes(`screenshot: ${run.screenshot}`));
    assert.equal((xml.match(/<skipped /g) ?? []).length, 5);
  });
});

describe('browser: a page wider than the phone', function () {
  this.timeout(90_000);
  let server: http.Server;
  let url: string;
  let dir: string;
  // Boutique-shaped pages whose product page is wider than the phone: the emulated phone's layout viewport
  // grows with it, and chromedriver's click on "Add To Cart" lands beside the button.
  const pages: Record<string, string> = {
    '/': `<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>Online Boutique</title></head>
<body><main class="home"><h3>Hot Products</h3><div class="hot-product-card"><a href="/product/WIDE1">open</a>
<div class="hot-product-card-name">Wide Thing</div><div class="hot-product-card-price">$1.00</div></div></main></body></html>`,
    '/product/WIDE1': `<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>Online Boutique</title></head>
<body><div style="width:1600px;height:8px;background:#ccc"></div><div class="h-product"><h2>Wide Thing</h2>
<p class="product-price">$1.00</p><form method="POST" action="/cart"><select id="quantity" name="quantity"><option>1</option></select>
<button type="submit" style="margin-left:900px">Add To Cart</button></form></div></body></html>`,
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faultline-browser-wide-'));
    server = http.createServer((req, res) => {
      const page = pages[req.url ?? ''];
      if (req.method === 'POST') {
        res.writeHead(302, { location: '/cart' }).end();
      } else if (page) {
        res.writeHead(200, { 'content-type': 'text/html' }).end(page);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('names the page width when a click does nothing', async () => {
    const s = await runProbe(
      probeInput(dir, 'wide', url, { profile: 'mobile', device: 'Pixel 7', stepTimeout: '3s' }),
      { maxRuns: 1 },
    );
    const [run] = readRuns(s);
    assert.equal(run?.ok, false);
    assert.equal(run.failedStep, 'add-to-cart', `${run.assertion} — ${run.error}`);
    assert.match(run.error ?? '', /the page is \d+ px wide in a 412 px viewport, so clicks can miss/);
  });
});

describe('browser: leaving a page', function () {
  this.timeout(60_000);

  it('counts a replaced document as gone, whether chromedriver says "stale" or "not in the document"', async () => {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!DOCTYPE html><form id="f"></form><p>${req.url}</p>`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const session = await openBrowser(browserSchema.parse({ profile: 'desktop' }));
    try {
      await session.driver.get(`${url}/a`);
      const form = await session.driver.findElement(By.css('form#f'));
      assert.equal(await documentGone(form), false, 'the form of the page being shown is not gone');
      await session.driver.get(`${url}/b`);
      assert.equal(await documentGone(form), true, 'the form of the page left behind is gone');
    } finally {
      await session.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
    // chromedriver's answer when the check lands while the next document is being committed (CI, order POST)
    const racing = {
      isEnabled: () =>
        Promise.reject(
          new seleniumError.WebDriverError(
            'unknown error: unhandled inspector error: {"code":-32000,"message":"Node with given id does not belong to the document"}',
          ),
        ),
    } as unknown as WebElement;
    assert.equal(await documentGone(racing), true);
    const broken = {
      isEnabled: () => Promise.reject(new seleniumError.NoSuchSessionError('invalid session id')),
    } as unknown as WebElement;
    await assert.rejects(documentGone(broken), /invalid session id/, 'other errors are not taken for leaving the page');
  });
});
