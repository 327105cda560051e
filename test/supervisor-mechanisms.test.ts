import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { freePort, freePortRange, waitUntil } from './helpers/ports';
import { SupervisorClient } from '../infra/local/supervisor/client';
import type { SupervisorConfigInput, AppSpec } from '../infra/local/supervisor/config';
import { fixtureApp } from './helpers/fixture-app';
import { GrpcHealthProbe } from '../infra/local/supervisor/health';
import * as grpc from '@grpc/grpc-js';
import type { PodInfo } from '../activities/deploy/types';
import { boutiqueMainPath, supervisorMainPath } from '../infra/local/paths';

const MiB = 1024 * 1024;

/** The process's resident memory (Linux /proc), in bytes. */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Downloads n bytes through url; bytes per second as the client saw them. */
async function throughput(url: string, n: number): Promise<number> {
  const t = Date.now();
  const res = await fetch(`${url}/bytes?n=${n}`);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(body.length, n);
  return n / ((Date.now() - t) / 1000);
}

/** Fetches n bytes over gRPC (the fixture's /fixture.Bytes/Get) through address; bytes per second. */
async function grpcThroughput(address: string, n: number): Promise<number> {
  const c = new grpc.Client(address, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * MiB,
  });
  try {
    const req = Buffer.alloc(4);
    req.writeUInt32BE(n);
    // one small call first: the connection (and its handshake) is not part of the measure
    const call = (size: Buffer) =>
      new Promise<Buffer>((resolve, reject) =>
        c.makeUnaryRequest(
          '/fixture.Bytes/Get',
          (b: Buffer) => b,
          (b: Buffer) => b,
          size,
          { deadline: Date.now() + 20_000 },
          (err, res) => (err || !res ? reject(err ?? new Error('no answer')) : resolve(res)),
        ),
      );
    await call(Buffer.from([0, 0, 0, 1])).catch((e: Error) => {
      throw new Error(`${address} small call: ${e.message}`);
    });
    const t = Date.now();
    const body = await call(req).catch((e: Error) => {
      throw new Error(`${address} ${n}-byte call: ${e.message}`);
    });
    assert.equal(body.length, n);
    return n / ((Date.now() - t) / 1000);
  } finally {
    c.close();
  }
}

/**
 * The local target's mechanisms for the fault kinds beyond the proxy's delay/loss/http ones: restart in place
 * (container-kill), bandwidth shaping (network-bandwidth), per-caller routes and partition (dependency-failure),
 * and a growing allocation inside a boutique process (memory-leak). Real supervisor, real pod processes.
 */
describe('supervisor mechanisms (restart in place, bandwidth, per-caller partition, memory leak)', function () {
  this.timeout(60_000);
  let dir: string;
  let child: ChildProcess;
  let client: SupervisorClient;
  let base: number;

  function fixture(name: string, mode: 'grpc' | 'http', offset: number, extra: Partial<AppSpec> = {}): AppSpec {
    return fixtureApp(base, name, mode, offset, extra);
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'faultline-mechanisms-'));
    base = await freePortRange(50);
    const port = await freePort();
    const config: SupervisorConfigInput = {
      port,
      dataDir: path.join(dir, 'data'),
      backoff: { baseMs: 300, maxMs: 1200, resetAfterMs: 60_000 },
      readiness: { periodMs: 100, timeoutMs: 500, failureThreshold: 1 },
      proxy: { noEndpointWaitMs: 300 },
      apps: [
        fixture('grpcapp', 'grpc', 0),
        // two callers of grpcapp, each over a route of its own
        fixture('callera', 'http', 10, { routes: [{ dependency: 'grpcapp', port: base + 40, env: 'GRPCAPP_ADDR' }] }),
        fixture('callerb', 'http', 20, { routes: [{ dependency: 'grpcapp', port: base + 41, env: 'GRPCAPP_ADDR' }] }),
        {
          ...fixture('paymentservice', 'grpc', 30),
          replicas: 2,
          args: [boutiqueMainPath(), '--service', 'paymentservice'],
          env: { ENABLE_PROFILER: '0' },
        },
      ],
    };
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    child = spawn(process.execPath, [supervisorMainPath(), '--config', file], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    client = new SupervisorClient(`http://127.0.0.1:${port}`);
    await waitUntil(() => client.healthy(), 10_000, 'supervisor /healthz');
    await waitUntil(async () => (await client.listPods()).every((p) => p.ready), 30_000, 'every pod ready');
  });

  after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('restarts a container in place: same name and uid, restarts + 1, ready again, the KSM counter + 1', async () => {
    const [pod] = await client.listPods({ app: 'grpcapp' });
    assert.ok(pod);
    const pidBefore = await client.podPid(pod.name);
    const restarted = await client.restartPod(pod.name);
    assert.equal(restarted.uid, pod.uid);
    const back = (await waitUntil(
      async () => {
        const p = await client.getPod(pod.name);
        return p?.ready && p.restarts === pod.restarts + 1 ? p : undefined;
      },
      10_000,
      'the pod ready again with one more restart',
    )) as PodInfo;
    assert.equal(back.name, pod.name);
    assert.equal(back.uid, pod.uid);
    assert.notEqual(await client.podPid(pod.name), pidBefore, 'a new process');
    assert.equal((await client.listPods({ app: 'grpcapp' })).length, 1, 'no replacement pod');
    const series = `kube_pod_container_status_restarts_total{namespace="default",pod="${pod.name}",uid="${pod.uid}",container="server"} ${pod.restarts + 1}`;
    assert.ok((await client.metricsText()).includes(series), `expected ${series}`);
    await assert.rejects(client.restartPod('grpcapp-nope'), /404/);
  });

  it('shapes the bytes from an app to the bandwidth rate, and lets them through again after DELETE and expiry', async () => {
    const url = `http://127.0.0.1:${base + 10}`;
    const rate = 1_000_000;
    await client.putProxyFault('callera', 'f-bw', {
      kind: 'bandwidth',
      rateBytesPerSec: rate,
      expiresAtMs: Date.now() + 30_000,
    });
    await client.putProxyFault('callera', 'f-bw', {
      kind: 'bandwidth',
      rateBytesPerSec: rate,
      expiresAtMs: Date.now() + 30_000,
    });
    assert.equal((await client.listProxyFaults()).filter((f) => f.faultId === 'f-bw').length, 1);
    assert.match(await client.metricsText(), /faultline_proxy_active_faults\{app="callera",kind="bandwidth"\} 1/);
    const shaped = await throughput(url, 1_500_000);
    // the bucket never lets more than rate + its 16 KiB burst through; a loaded host only makes it slower
    assert.ok(shaped <= rate * 1.1 && shaped >= rate * 0.5, `shaped throughput ${Math.round(shaped)} B/s vs ${rate}`);
    assert.equal(await client.deleteProxyFault('callera', 'f-bw'), true);
    const free = await throughput(url, 1_500_000);
    assert.ok(free > rate * 3, `throughput after DELETE ${Math.round(free)} B/s`);
    await assert.rejects(
      client.putProxyFault('callera', 'f-bad', { kind: 'bandwidth', expiresAtMs: Date.now() + 1000 }),
      /rateBytesPerSec/,
    );
    await client.putProxyFault('callera', 'f-bw2', {
      kind: 'bandwidth',
      rateBytesPerSec: rate,
      expiresAtMs: Date.now() + 800,
    });
    await waitUntil(async () => (await client.listProxyFaults()).length === 0, 5000, 'the fault expired by itself');
    assert.ok((await throughput(url, 1_500_000)) > rate * 3, 'unshaped after expiry');
  });

  it('shapes a gRPC app (the TCP proxy) to the bandwidth rate, on its Service port and on a caller route', async () => {
    const rate = 500_000;
    const n = 1_000_000;
    await client.putProxyFault('grpcapp', 'f-bw-grpc', {
      kind: 'bandwidth',
      rateBytesPerSec: rate,
      limitBytes: 256 * 1024,
      expiresAtMs: Date.now() + 30_000,
    });
    for (const address of [`127.0.0.1:${base}`, `127.0.0.1:${base + 40}`]) {
      const shaped = await grpcThroughput(address, n).catch((e: Error) => {
        throw new Error(`${address === `127.0.0.1:${base}` ? 'service port' : 'caller route'}: ${e.message}`);
      });
      assert.ok(shaped <= rate * 1.15 && shaped >= rate * 0.5, `${address}: ${Math.round(shaped)} B/s vs ${rate}`);
    }
    assert.equal(await client.deleteProxyFault('grpcapp', 'f-bw-grpc'), true);
    const free = await grpcThroughput(`127.0.0.1:${base}`, n);
    assert.ok(free > rate * 3, `after DELETE ${Math.round(free)} B/s`);
  });

  it("black-holes one caller's route to a dependency with a partition while another caller still reaches it", async () => {
    const addrOf = async (app: string, offset: number) =>
      (await fetch(`http://127.0.0.1:${base + offset}/env?name=GRPCAPP_ADDR`)).text();
    assert.equal(await addrOf('callera', 10), `127.0.0.1:${base + 40}`, "the caller's address is its own route");
    assert.equal(await addrOf('callerb', 20), `127.0.0.1:${base + 41}`);
    const a = new GrpcHealthProbe(`127.0.0.1:${base + 40}`);
    const b = new GrpcHealthProbe(`127.0.0.1:${base + 41}`);
    const viaService = new GrpcHealthProbe(`127.0.0.1:${base}`);
    try {
      assert.equal(await a.check(2000), true, 'A → grpcapp before the fault');
      await assert.rejects(
        client.putProxyFault('grpcapp', 'f-part', {
          kind: 'partition',
          from: 'paymentservice',
          expiresAtMs: Date.now() + 10_000,
        }),
        /no route of its own from paymentservice to grpcapp \(callers with one: callera, callerb\)/,
      );
      await client.putProxyFault('grpcapp', 'f-part', {
        kind: 'partition',
        from: 'callera',
        expiresAtMs: Date.now() + 30_000,
      });
      assert.equal(await a.check(800), false, "A's open connection passes nothing");
      const fresh = new GrpcHealthProbe(`127.0.0.1:${base + 40}`);
      try {
        assert.equal(await fresh.check(800), false, "A's new connection hangs");
      } finally {
        fresh.close();
      }
      assert.equal(await b.check(2000), true, 'B still reaches grpcapp');
      assert.equal(await viaService.check(2000), true, 'the Service port still answers');
      assert.match(await client.metricsText(), /faultline_proxy_active_faults\{app="grpcapp",kind="partition"\} 1/);
      assert.equal(await client.deleteProxyFault('grpcapp', 'f-part'), true);
      await waitUntil(() => a.check(1000), 5000, 'A reaches grpcapp again after removal');
    } finally {
      a.close();
      b.close();
      viaService.close();
    }
  });

  it("grows a boutique pod's own memory linearly over the duration and frees it on removal", async () => {
    const [p0, p1] = await client.listPods({ app: 'paymentservice' });
    assert.ok(p0 && p1);
    const [pid0, pid1] = [await client.podPid(p0.name), await client.podPid(p1.name)];
    const [rss0, rss1] = [rssOf(pid0), rssOf(pid1)];
    const size = 64 * MiB;
    const durationMs = 2000;
    const t0 = Date.now();
    const leak = await client.startMemoryLeak(p0.name, 'f-leak', { sizeBytes: size, durationMs, untilMs: t0 + 30_000 });
    const again = await client.startMemoryLeak(p0.name, 'f-leak', {
      sizeBytes: size,
      durationMs,
      untilMs: t0 + 30_000,
    });
    assert.equal(again.startedAtMs, leak.startedAtMs, 'idempotent by faultId');
    // halfway: about half grown (a wide band: the host is shared), then all of it
    await new Promise((r) => setTimeout(r, durationMs / 2 - (Date.now() - t0)));
    const mid = rssOf(pid0) - rss0;
    assert.ok(mid > size * 0.15 && mid < size * 0.85, `halfway grown ${(mid / MiB).toFixed(1)} MiB of 64`);
    const full = (await waitUntil(
      () => (rssOf(pid0) - rss0 > size * 0.9 ? rssOf(pid0) - rss0 : undefined),
      5000,
      'the leak grown to its size',
    )) as number;
    assert.ok(Date.now() - t0 >= durationMs * 0.9, `grown in ${Date.now() - t0} ms, not at once`);
    assert.ok(full < size * 1.3, `grown ${(full / MiB).toFixed(1)} MiB`);
    assert.ok(Math.abs(rssOf(pid1) - rss1) < 16 * MiB, 'the other pod is unaffected');
    const listed = await client.listMemoryLeaks();
    assert.deepEqual(
      listed.map((l) => [l.pod, l.faultId, l.sizeBytes]),
      [[p0.name, 'f-leak', size]],
    );
    assert.ok((listed[0]?.bytesNow ?? 0) > size * 0.85, 'listed as (almost) fully grown');
    const gauge = new RegExp(`faultline_memory_leak_bytes\\{app="paymentservice",pod="${p0.name}"\\} (\\d+)`);
    assert.ok(Number(gauge.exec(await client.metricsText())?.[1]) > size * 0.85, 'exported as a metric');
    assert.equal(await client.stopMemoryLeak(p0.name, 'f-leak'), true);
    await waitUntil(() => rssOf(pid0) - rss0 < 16 * MiB, 5000, 'the leak freed');
    assert.equal(await client.stopMemoryLeak(p0.name, 'f-leak'), false);
    assert.deepEqual(await client.listMemoryLeaks(), []);
    const [fixturePod] = await client.listPods({ app: 'grpcapp' });
    await assert.rejects(
      client.startMemoryLeak(fixturePod?.name ?? '', 'f-x', {
        sizeBytes: MiB,
        durationMs: 0,
        untilMs: Date.now() + 1000,
      }),
      /409 .*did not announce the memory-leak capability/,
    );
  });

  it('lets a memory leak expire by itself at untilMs', async () => {
    const [pod] = await client.listPods({ app: 'paymentservice' });
    assert.ok(pod);
    const pid = await client.podPid(pod.name);
    const rss = rssOf(pid);
    await client.startMemoryLeak(pod.name, 'f-short', {
      sizeBytes: 32 * MiB,
      durationMs: 0,
      untilMs: Date.now() + 1000,
    });
    await waitUntil(() => rssOf(pid) - rss > 28 * MiB, 3000, 'allocated at once (durationMs 0)');
    await waitUntil(() => rssOf(pid) - rss < 12 * MiB, 5000, 'freed by the process itself at untilMs');
    assert.deepEqual(
      (await client.listMemoryLeaks()).filter((l) => l.faultId === 'f-short'),
      [],
      'and no longer listed',
    );
  });
});
