import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, freePortRange, waitUntil } from './helpers/ports';
import { BOUTIQUE_SERVICES, localTargetSchema, type LocalTargetConfig } from '../schemas/target';
import { PORT_SPAN, routePort } from '../infra/local/ports';
import { GrpcHealthProbe } from '../infra/local/supervisor/health';
import { ensureStack, stackStatus, stopStack, StackStartError } from '../infra/local/stack';
import { LocalTarget } from '../activities/deploy/local-target';
import { SupervisorClient } from '../infra/local/supervisor/client';
import { processGone } from '../infra/local/supervisor/state';
import type { PodInfo, TargetEndpoints } from '../activities/deploy/types';
import { createDeployActivities } from '../activities/deploy';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { spawnSync } from 'node:child_process';
import { up } from '../cli/commands/up';
import { stopDevServer } from '../infra/temporal/dev-server';
import { stopWorker } from '../infra/workers';
import type { StatusReport } from '../infra/status';

const CLI = path.join(__dirname, '..', 'cli', 'main.js');

/** A TCP connection to host:port (an http:// prefix is dropped) is accepted. */
async function connects(address: string): Promise<void> {
  const [host, port] = address.replace(/^http:\/\//, '').split(':');
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(Number(port), host ?? '127.0.0.1', () => {
      s.destroy();
      resolve();
    });
    s.once('error', (err) => reject(new Error(`${address} does not answer: ${err.message}`)));
  });
}

async function waitFor<T>(check: () => Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  return (await waitUntil(check, ms, what)) as T;
}

/** Distinct free ports (freePort may hand out the same port twice when nothing binds it in between). */
async function distinctPorts(n: number, avoid: (p: number) => boolean): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!out.includes(p) && !avoid(p)) out.push(p);
  }
  return out;
}

async function localTarget(extra: Record<string, unknown> = {}): Promise<LocalTargetConfig> {
  const basePort = await freePortRange(PORT_SPAN);
  const [prom, node, sup, redis] = await distinctPorts(4, (p) => p >= basePort && p < basePort + PORT_SPAN);
  return localTargetSchema.parse({
    type: 'local',
    basePort,
    prometheus: { port: prom, scrapeInterval: '1s' },
    nodeExporterPort: node,
    supervisorPort: sup,
    redisPort: redis,
    readinessTimeout: '90s',
    ...extra,
  });
}

/** A browser-like session: keeps cookies, does not follow redirects. */
class Session {
  private readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}

  async request(method: string, p: string, form?: Record<string, string>): Promise<{ status: number; body: string }> {
    const headers: Record<string, string> = {
      cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    };
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(this.base + p, {
      method,
      headers,
      body: form ? new URLSearchParams(form).toString() : undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(15_000),
    });
    for (const c of res.headers.getSetCookie()) {
      const [kv] = c.split(';');
      const i = kv?.indexOf('=') ?? -1;
      if (kv && i > 0) this.cookies.set(kv.slice(0, i), kv.slice(i + 1));
    }
    return { status: res.status, body: await res.text() };
  }
}

/** Sums a counter over every pod of an app, read straight from the pods' /metrics (via the supervisor's SD). */
async function podCounter(supervisorUrl: string, app: string, re: RegExp): Promise<number> {
  const groups = (await (await fetch(`${supervisorUrl}/sd/pods`)).json()) as {
    targets: string[];
    labels: Record<string, string>;
  }[];
  let sum = 0;
  for (const g of groups.filter((x) => x.labels.app === app)) {
    const text = await (await fetch(`http://${g.targets[0]}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (re.test(line)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

interface Series {
  metric: Record<string, string>;
  values: [number, string][];
}

async function queryRange(promUrl: string, query: string, startMs: number, endMs: number): Promise<Series[]> {
  const u = new URL(`${promUrl}/api/v1/query_range`);
  u.searchParams.set('query', query);
  u.searchParams.set('start', String(startMs / 1000));
  u.searchParams.set('end', String(endMs / 1000));
  u.searchParams.set('step', '1');
  const res = await fetch(u);
  const body = (await res.json()) as { status: string; data: { result: Series[] }; error?: string };
  assert.equal(body.status, 'success', body.error);
  return body.data.result;
}

/** Faster restarts than the 1 s default, so the back-off test stays short. */
const STACK_TUNING = { supervisor: { backoff: { baseMs: 500, maxMs: 8000 } } };

const CHECKOUT_FORM = {
  email: 'someone@example.com',
  street_address: '1600 Amphitheatre Parkway',
  zip_code: '94043',
  city: 'Mountain View',
  state: 'CA',
  country: 'United States',
  credit_card_number: '4432801561520454',
  credit_card_expiration_month: '1',
  credit_card_expiration_year: String(new Date().getUTCFullYear() + 1),
  credit_card_cvv: '672',
};

describe('local stack (boutique under the supervisor, redis, node-exporter, Prometheus)', function () {
  this.timeout(180_000);
  let home: string;
  let config: LocalTargetConfig;
  let target: LocalTarget;
  let endpoints: TargetEndpoints;
  let client: SupervisorClient;
  let startMs: number;
  /** When deploy returned: every pod ready and Prometheus up (on a loaded machine, tens of seconds after startMs). */
  let deployedMs: number;

  before(async () => {
    home = mkdtempSync(path.join(tmpdir(), 'faultline-stack-'));
    config = await localTarget();
    startMs = Date.now();
    target = new LocalTarget(config, 'test-campaign', {
      home,
      stack: STACK_TUNING,
    });
    endpoints = await target.deploy();
    deployedMs = Date.now();
    client = new SupervisorClient(endpoints.supervisorUrl ?? '');
  });

  after(async () => {
    await stopStack({ home });
    rmSync(home, { recursive: true, force: true });
  });

  it('starts every part, every pod ready, and a second deploy reuses them', async () => {
    const parts = await stackStatus({ home });
    assert.deepEqual(
      parts.map((p) => [p.name, p.running, p.ready]),
      [
        ['redis', true, true],
        ['supervisor', true, true],
        ['node-exporter', true, true],
        ['prometheus', true, true],
      ],
    );
    const pods = await target.listPods({});
    assert.equal(pods.length, 10);
    assert.ok(pods.every((p) => p.ready && p.phase === 'Running'));
    const again = await target.deploy();
    assert.deepEqual(again, endpoints);
    const partsAgain = await stackStatus({ home });
    assert.deepEqual(
      partsAgain.map((p) => p.pid),
      parts.map((p) => p.pid),
      'a retried deploy starts nothing twice',
    );
  });

  it('deployTarget is idempotent: a retried activity finds the running stack, heartbeating meanwhile', async () => {
    const pidsBefore = (await stackStatus({ home })).map((p) => p.pid);
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('WARN') });
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const { deployTarget } = createDeployActivities({ home, localStack: STACK_TUNING });
    const got = await env.run(deployTarget, { campaignId: 'test-campaign', dataDir: home, target: config });
    assert.deepEqual(got, endpoints);
    assert.ok(beats.length > 0, 'heartbeats while deploying');
    assert.deepEqual(
      (await stackStatus({ home })).map((p) => p.pid),
      pidsBefore,
    );
  });

  it('faultline ps shows every part of what `up` runs with its address and pid, every boutique pod included', async function () {
    this.timeout(150_000);
    // `faultline up` on this home: the dev server and both workers; the stack is the one this suite started.
    const started = await up({ home, temporalPort: await freePort(), headless: true, stack: false });
    try {
      const ps = (args: string[]) =>
        spawnSync(process.execPath, [CLI, 'ps', ...args], {
          env: { ...process.env, FAULTLINE_HOME: home },
          encoding: 'utf8',
        });
      const json = ps(['--json']);
      assert.equal(json.status, 0, json.stderr);
      const report = JSON.parse(json.stdout) as StatusReport;
      const part = (name: string) => {
        const p = report.parts.find((x) => x.name === name);
        assert.ok(p, `ps lists ${name}`);
        assert.ok(p.state === 'ready' || p.state === 'running', `${name}: ${p.state}`);
        assert.ok(p.pid && !processGone(p.pid), `${name}: pid ${p.pid} is alive`);
        assert.ok(p.address, `${name}: address`);
        return { ...p, pid: p.pid, address: p.address };
      };
      const temporal = part('temporal dev server');
      assert.equal(temporal.pid, started.temporal.pid);
      assert.equal(temporal.address, started.temporal.address);
      for (const w of started.workers) {
        const p = part(`${w.kind} worker`);
        assert.equal(p.pid, w.pid);
        assert.match(p.address, new RegExp(`on ${started.temporal.address}$`));
      }
      const stackParts = await stackStatus({ home });
      const wanted: Record<string, string> = {
        redis: `127.0.0.1:${config.redisPort}`,
        supervisor: `http://127.0.0.1:${config.supervisorPort}`,
        'node-exporter': `http://127.0.0.1:${config.nodeExporterPort}`,
        prometheus: `http://127.0.0.1:${config.prometheus.port}`,
      };
      for (const [name, address] of Object.entries(wanted)) {
        const p = part(name);
        assert.equal(p.state, 'ready', name);
        assert.equal(p.address, address, name);
        assert.equal(p.pid, stackParts.find((s) => s.name === name)?.pid, `${name}: the pid the stack recorded`);
      }
      // every address answers
      for (const p of report.parts.filter((x) => x.pid && /^(http:\/\/)?127\.0\.0\.1:\d+$/.test(x.address ?? ''))) {
        await connects(p.address ?? '');
      }
      await connects(temporal.address);
      // the boutique: every service with its Service address and every pod with a live process
      assert.deepEqual(report.services.map((s) => s.app).sort(), [...BOUTIQUE_SERVICES].sort());
      const pods = await target.listPods({});
      for (const s of report.services) {
        await connects(s.address);
        assert.ok(s.pods.length >= 1, `${s.app}: pods`);
        for (const p of s.pods) {
          assert.ok(p.pid && !processGone(p.pid), `${p.name}: pid ${p.pid} is alive`);
          assert.ok(p.running && p.ready, `${p.name}: running and ready`);
          assert.ok(
            pods.some((x) => x.name === p.name && x.labels.app === s.app),
            `${p.name} is a pod the supervisor lists`,
          );
        }
      }
      // the text form names every part with its pid and address, and every pod with its pid
      const text = ps([]);
      assert.equal(text.status, 0, text.stderr);
      for (const p of report.parts) {
        const line = text.stdout.split('\n').find((l) => l.startsWith(p.name));
        assert.ok(line?.includes(`pid ${p.pid}`) && line.includes(p.address ?? ''), `${p.name}: ${line}`);
      }
      for (const s of report.services)
        for (const p of s.pods) assert.ok(text.stdout.includes(`${p.name} pid ${p.pid}`));
    } finally {
      for (const kind of ['main', 'training'] as const) await stopWorker(kind, home);
      await stopDevServer(path.join(home, 'temporal'));
    }
    const after = JSON.parse(
      spawnSync(process.execPath, [CLI, 'ps', '--json'], {
        env: { ...process.env, FAULTLINE_HOME: home },
        encoding: 'utf8',
      }).stdout,
    ) as StatusReport;
    for (const name of ['temporal dev server', 'main worker', 'training worker'])
      assert.equal(after.parts.find((p) => p.name === name)?.state, 'stopped', `${name} stopped after down`);
  });

  it('completes a purchase through the frontend that reaches payment, shipping and email', async () => {
    const sup = endpoints.supervisorUrl ?? '';
    const before = {
      charge: await podCounter(
        sup,
        'paymentservice',
        /^grpc_server_handled_total\{.*grpc_method="Charge".*grpc_code="OK"/,
      ),
      ship: await podCounter(
        sup,
        'shippingservice',
        /^grpc_server_handled_total\{.*grpc_method="ShipOrder".*grpc_code="OK"/,
      ),
      email: await podCounter(
        sup,
        'emailservice',
        /^grpc_server_handled_total\{.*grpc_method="SendOrderConfirmation".*grpc_code="OK"/,
      ),
    };
    const s = new Session(endpoints.frontendUrl);
    const home = await s.request('GET', '/');
    assert.equal(home.status, 200);
    assert.match(home.body, /Hot Products/);
    assert.equal((await s.request('GET', '/product/OLJCESPC7Z')).status, 200);
    assert.equal((await s.request('POST', '/cart', { product_id: 'OLJCESPC7Z', quantity: '2' })).status, 302);
    const cart = await s.request('GET', '/cart');
    assert.equal(cart.status, 200);
    assert.match(cart.body, /Cart \(2\)/);
    const order = await s.request('POST', '/cart/checkout', CHECKOUT_FORM);
    assert.equal(order.status, 200, order.body.slice(0, 500));
    assert.match(order.body, /Your order is complete!/);
    const after = {
      charge: await podCounter(
        sup,
        'paymentservice',
        /^grpc_server_handled_total\{.*grpc_method="Charge".*grpc_code="OK"/,
      ),
      ship: await podCounter(
        sup,
        'shippingservice',
        /^grpc_server_handled_total\{.*grpc_method="ShipOrder".*grpc_code="OK"/,
      ),
      email: await podCounter(
        sup,
        'emailservice',
        /^grpc_server_handled_total\{.*grpc_method="SendOrderConfirmation".*grpc_code="OK"/,
      ),
    };
    assert.equal(after.charge, before.charge + 1, 'payment charged once');
    assert.equal(after.ship, before.ship + 1, 'order shipped once');
    assert.equal(after.email, before.email + 1, 'confirmation emailed once');
  });

  it('cuts only the frontend from productcatalogservice with a partition: its pages fail, other callers reach it', async () => {
    const s = new Session(endpoints.frontendUrl);
    assert.equal((await s.request('GET', '/product/OLJCESPC7Z')).status, 200);
    // recommendationservice's own route to productcatalogservice, the address its pod was given
    const other = new GrpcHealthProbe(
      `127.0.0.1:${routePort(config.basePort, 'recommendationservice', 'productcatalogservice')}`,
    );
    try {
      await client.putProxyFault('productcatalogservice', 'test-partition', {
        kind: 'partition',
        from: 'frontend',
        expiresAtMs: Date.now() + 30_000,
      });
      // the frontend's call hangs until its gRPC deadline (3 s) and the page fails: the caller's own errors
      const cut = await s.request('GET', '/product/OLJCESPC7Z');
      assert.ok(cut.status >= 500, `product page during the partition: ${cut.status}`);
      assert.equal(await other.check(2000), true, 'recommendationservice still reaches productcatalogservice');
      assert.equal(await client.deleteProxyFault('productcatalogservice', 'test-partition'), true);
      await waitFor(
        async () => (await s.request('GET', '/product/OLJCESPC7Z')).status === 200,
        15_000,
        'the frontend reaches productcatalogservice again',
      );
    } finally {
      other.close();
      await client.deleteProxyFault('productcatalogservice', 'test-partition');
    }
  });

  it('restarts a SIGKILLed pod with a new name, with a growing back-off, and the shop recovers', async () => {
    const gaps: number[] = [];
    let restarts = 0;
    for (let i = 0; i < 2; i++) {
      const [victim] = await target.listPods({ app: 'cartservice' });
      assert.ok(victim?.ready);
      const pid = await client.podPid(victim.name);
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      const fresh = await waitFor<PodInfo>(
        async () => {
          const [p] = await target.listPods({ app: 'cartservice' });
          return p && p.name !== victim.name && p.ready && p.restarts > restarts ? p : undefined;
        },
        30_000,
        'replacement cartservice pod ready',
      );
      assert.notEqual(fresh.uid, victim.uid);
      restarts = fresh.restarts;
      assert.ok((fresh.createdAtMs ?? 0) >= killedAt);
      gaps.push((fresh.startedAtMs ?? 0) - (fresh.createdAtMs ?? 0));
    }
    // base 500 ms doubling
    assert.ok((gaps[0] ?? 0) >= 495 && (gaps[1] ?? 0) >= 995, `back-off grows: ${gaps.join(', ')} ms`);
    const s = new Session(endpoints.frontendUrl);
    await waitFor(async () => (await s.request('GET', '/cart')).status === 200, 20_000, 'cart page after restart');
  });

  it('makes a held cartservice visible as frontend errors and restarts in Prometheus', async () => {
    const [pod] = await target.listPods({ app: 'cartservice' });
    assert.ok(pod);
    await client.holdPod(pod.name, 'test-hold', Date.now() + 4000);
    const s = new Session(endpoints.frontendUrl);
    let errors = 0;
    await waitFor(
      async () => {
        if ((await s.request('GET', '/cart')).status >= 500) errors++;
        return errors >= 3;
      },
      15_000,
      'frontend errors while cartservice is down',
    );
    await waitFor(async () => (await target.listPods({ app: 'cartservice' }))[0]?.ready, 20_000, 'cartservice back');
    const prom = endpoints.prometheusUrl;
    const end = Date.now() + 3000;
    await waitFor(
      async () => {
        const r = await queryRange(prom, 'sum(http_requests_total{code=~"5.."})', startMs, Date.now());
        return r.length > 0 && Date.now() > end;
      },
      20_000,
      'frontend 5xx in Prometheus',
    );
    const restarts = await queryRange(
      prom,
      // kube-state-metrics' restarts carry no app label: the app comes from kube_pod_labels
      'sum by (label_app) (kube_pod_container_status_restarts_total * on(namespace, pod) group_left(label_app) kube_pod_labels{label_app="cartservice"})',
      startMs,
      Date.now(),
    );
    const values = restarts[0]?.values.map(([, v]) => Number(v)) ?? [];
    assert.ok(values.length > 0);
    assert.ok((values[values.length - 1] ?? 0) >= 3, `cartservice restarts ${values.at(-1)}`);
    assert.ok(
      values.some((v) => v < (values[values.length - 1] ?? 0)),
      'restarts rise during the window',
    );
    const ready = await queryRange(
      prom,
      'kube_deployment_status_replicas_available{deployment="cartservice"}',
      startMs,
      Date.now(),
    );
    assert.ok(
      ready[0]?.values.some(([, v]) => v === '0'),
      'an unavailable window is recorded',
    );
  });

  it('answers query_range for node and service metrics covering the test window', async () => {
    const prom = endpoints.prometheusUrl;
    const end = Date.now();
    const cover = (series: Series[], what: string) => {
      assert.ok(series.length > 0, `${what}: no series`);
      const ts = series.flatMap((s) => s.values.map(([t]) => t * 1000));
      // the first sample comes within a few scrape intervals of the stack being up (rate() needs two samples)
      assert.ok(
        Math.min(...ts) <= deployedMs + 10_000,
        `${what}: starts ${Math.min(...ts) - deployedMs} ms after deploy`,
      );
      assert.ok(Math.max(...ts) >= end - 5000, `${what}: ends ${end - Math.max(...ts)} ms before now`);
    };
    cover(await queryRange(prom, 'node_load1', startMs, end), 'node_load1');
    cover(await queryRange(prom, 'sum(rate(node_cpu_seconds_total{mode!="idle"}[5s]))', startMs, end), 'node cpu');
    cover(await queryRange(prom, 'node_memory_MemAvailable_bytes', startMs, end), 'node memory');
    cover(await queryRange(prom, 'sum by (app) (rate(grpc_server_handled_total[5s]))', startMs, end), 'grpc rate');
    cover(
      await queryRange(
        prom,
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5s])))',
        startMs,
        end,
      ),
      'frontend p95',
    );
    // A pod killed by an earlier test may still be in back-off: wait for every app to be scraped again.
    let apps: Series[];
    const deadline = Date.now() + 45_000;
    do {
      const now = Date.now();
      apps = await queryRange(prom, 'count by (app) (up{job="boutique"} == 1)', now - 5000, now);
      if (apps.length === 10) break;
      await new Promise((r) => setTimeout(r, 1000));
    } while (Date.now() < deadline);
    assert.equal(apps.length, 10, 'every service is scraped');
  });

  it('recovers when the supervisor itself is SIGKILLed: its orphaned pods are reaped and the shop comes back', async () => {
    const sup = (await stackStatus({ home })).find((p) => p.name === 'supervisor');
    assert.ok(sup?.pid);
    const orphan = await client.podPid((await target.listPods({ app: 'adservice' }))[0]?.name ?? '');
    process.kill(sup.pid, 'SIGKILL');
    await waitUntil(async () => !(await client.healthy()), 10_000, 'supervisor down');
    // the pods outlive their supervisor (nothing kills them) until the next ensureStack reaps them
    assert.doesNotThrow(() => process.kill(orphan, 0));
    await target.deploy();
    assert.ok(processGone(orphan), 'orphaned pod reaped');
    const s = new Session(endpoints.frontendUrl);
    assert.equal((await s.request('GET', '/')).status, 200);
  });

  it('teardownTarget keeps the shared stack with keepStack and stops every part without it', async () => {
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('WARN') });
    const { teardownTarget } = createDeployActivities({ home, localStack: STACK_TUNING });
    const input = { campaignId: 'test-campaign', dataDir: home, target: config };
    await env.run(teardownTarget, { ...input, keepStack: true });
    assert.ok((await stackStatus({ home })).every((p) => p.running && p.ready));
    await env.run(teardownTarget, input);
    assert.ok((await stackStatus({ home })).every((p) => !p.running));
    assert.equal(await client.healthy(), false);
    await env.run(teardownTarget, input); // idempotent
  });
});

describe('local stack start errors', function () {
  this.timeout(60_000);
  let home: string;

  beforeEach(() => {
    home = mkdtempSync(path.join(tmpdir(), 'faultline-stack-err-'));
  });
  afterEach(async () => {
    await stopStack({ home });
    rmSync(home, { recursive: true, force: true });
  });

  it('names the part and the fix when a port is taken', async () => {
    const target = await localTarget();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(target.redisPort, '127.0.0.1', () => r()));
    try {
      await assert.rejects(ensureStack({ home, target }), (err: unknown) => {
        assert.ok(err instanceof StackStartError);
        assert.equal(err.part, 'redis');
        assert.match(err.message, new RegExp(`^redis: port ${target.redisPort} is taken .* set target.redisPort`));
        return true;
      });
    } finally {
      blocker.close();
    }
  });

  it('names the part and the fix when a binary is missing', async () => {
    const target = await localTarget();
    await assert.rejects(
      ensureStack({ home, target, binaries: { redis: '/nonexistent/redis-server' } }),
      (err: unknown) => {
        assert.ok(err instanceof StackStartError);
        assert.match(
          err.message,
          /^redis: redis-server not found at \/nonexistent\/redis-server — run `bash infra\/setup.sh`/,
        );
        return true;
      },
    );
  });

  it('stops the part it was starting when the deploy activity is cancelled', async () => {
    const target = await localTarget();
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('WARN') });
    const { deployTarget } = createDeployActivities({ home });
    env.on('heartbeat', (d: { progress?: string }) => {
      if (d.progress?.startsWith('supervisor: started')) env.cancel();
    });
    await assert.rejects(env.run(deployTarget, { campaignId: 'c', dataDir: home, target }));
    const parts = await stackStatus({ home });
    assert.equal(parts.find((p) => p.name === 'supervisor')?.running, false);
    assert.equal(parts.find((p) => p.name === 'prometheus')?.running, false);
  });

  it('names a part whose service port is taken after the earlier parts started', async () => {
    const target = await localTarget();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(target.basePort + 3, '127.0.0.1', () => r()));
    try {
      await assert.rejects(
        ensureStack({ home, target }),
        // names the holder too: this test process
        new RegExp(
          `supervisor: port \\d+ \\(cartservice service\\) is taken by another process \\(pid ${process.pid}: .*\\) — set target.basePort`,
        ),
      );
    } finally {
      blocker.close();
    }
  });
});
