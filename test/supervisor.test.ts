import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { freePort, freePortRange, waitUntil } from './helpers/ports';
import { SupervisorClient } from '../infra/local/supervisor/client';
import type { SupervisorConfigInput, AppSpec } from '../infra/local/supervisor/config';
import { GrpcHealthProbe } from '../infra/local/supervisor/health';
import { LOSS_STALL_MAX_MS, LOSS_STALL_MIN_MS } from '../infra/local/proxy/faults';
import { supervisorMainPath } from '../infra/local/paths';
import type { PodInfo } from '../activities/deploy/types';

const FIXTURE = path.join(__dirname, 'fixtures', 'supervisor-app.js');
/** waitUntil, typed for checks that return the awaited value or undefined. */
async function waitFor<T>(check: () => Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  return (await waitUntil(check, ms, what)) as T;
}

const POD_NAME_RE = /^([a-z]+)-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/;

describe('supervisor (ReplicaSet + kubelet + Service proxy for local processes)', function () {
  this.timeout(60_000);
  let dir: string;
  let child: ChildProcess;
  let client: SupervisorClient;
  let supervisorUrl: string;
  let base: number;

  function app(name: string, mode: string, replicas: number, offset: number, protocol: AppSpec['protocol']): AppSpec {
    return {
      app: name,
      replicas,
      protocol,
      publicPort: base + offset,
      podPorts: [0, 1, 2].map((s) => ({ port: base + offset + 1 + 2 * s, metricsPort: base + offset + 2 + 2 * s })),
      metricsOn: protocol === 'http' ? 'port' : 'metricsPort',
      command: process.execPath,
      args: [FIXTURE],
      env: { FIXTURE_MODE: mode, FIXTURE_UNHEALTHY_FILE: path.join(dir, `${name}-unhealthy`) },
    };
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'faultline-supervisor-'));
    base = await freePortRange(40);
    const port = await freePort();
    const config: SupervisorConfigInput = {
      port,
      dataDir: path.join(dir, 'data'),
      backoff: { baseMs: 300, maxMs: 1200, resetAfterMs: 60_000 },
      readiness: { periodMs: 100, timeoutMs: 500, failureThreshold: 1 },
      proxy: { noEndpointWaitMs: 300 },
      apps: [
        app('grpcapp', 'grpc', 2, 0, 'grpc'),
        app('webapp', 'http', 1, 10, 'http'),
        app('crashapp', 'crash', 1, 20, 'grpc'),
      ],
    };
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    child = spawn(process.execPath, [supervisorMainPath(), '--config', file], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    supervisorUrl = `http://127.0.0.1:${port}`;
    client = new SupervisorClient(supervisorUrl);
    await waitUntil(() => client.healthy(), 10_000, 'supervisor /healthz');
    await waitUntil(
      async () => (await client.listPods()).filter((p) => p.ready).length === 3,
      20_000,
      'grpcapp and webapp pods ready',
    );
  });

  after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('names pods like a ReplicaSet, labels them and filters by selector', async () => {
    const pods = await client.listPods({ app: 'grpcapp' });
    assert.equal(pods.length, 2);
    for (const p of pods) {
      assert.match(p.name, POD_NAME_RE);
      assert.equal(p.labels.app, 'grpcapp');
      assert.equal(p.phase, 'Running');
      assert.ok(p.uid.length >= 32);
    }
    // one ReplicaSet: same template hash, different suffixes
    assert.equal(pods[0]?.name.split('-')[1], pods[1]?.name.split('-')[1]);
    assert.notEqual(pods[0]?.name, pods[1]?.name);
    assert.equal((await client.listPods({ app: 'nope' })).length, 0);
  });

  it('replaces a SIGKILLed pod with a new name and grows the back-off on repeated kills', async () => {
    const delays: number[] = [];
    let sawBackOff = false;
    let restarts = 0;
    for (let i = 0; i < 3; i++) {
      const [victim] = await client.listPods({ app: 'grpcapp' });
      assert.ok(victim);
      const pid = await client.podPid(victim.name);
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      const replacement = await waitFor(
        async () => {
          const pods = await client.listPods({ app: 'grpcapp' });
          const fresh = pods.find((p) => p.name !== victim.name && p.restarts > restarts);
          if (fresh?.reason === 'CrashLoopBackOff') sawBackOff = true;
          return fresh?.ready ? fresh : undefined;
        },
        15_000,
        'replacement pod ready',
      );
      assert.notEqual(replacement.uid, victim.uid);
      assert.match(replacement.name, POD_NAME_RE);
      assert.ok(!(await client.getPod(victim.name)), 'the killed pod is gone');
      restarts = replacement.restarts;
      assert.ok((replacement.createdAtMs ?? 0) >= killedAt);
      // the back-off the supervisor applied: from the replacement's creation (death noticed) to its start
      delays.push((replacement.startedAtMs ?? 0) - (replacement.createdAtMs ?? 0));
    }
    assert.ok(sawBackOff, 'the waiting pod reports CrashLoopBackOff');
    // base 300 ms doubling: ~300, ~600, ~1200
    assert.ok((delays[0] ?? 0) >= 295, `first back-off ${delays.join(', ')} ms`);
    assert.ok((delays[1] ?? 0) >= 595, `back-off doubles: ${delays.join(', ')} ms`);
    assert.ok((delays[2] ?? 0) >= 1195, `back-off doubles: ${delays.join(', ')} ms`);
    const metrics = await client.metricsText();
    assert.match(metrics, /faultline_app_restarts_total\{app="grpcapp"\} [3-9]/);
    assert.match(
      metrics,
      // kube-state-metrics 2.x label set: no app label (that is kube_pod_labels' label_app)
      /kube_pod_container_status_restarts_total\{namespace="default",pod="grpcapp-[^"]+",uid="[0-9a-f-]{36}",container="server"\} [1-9]/,
    );
    // kube-state-metrics' pod identity: the replacement's creation time and its app label, joined on pod
    const [now] = await client.listPods({ app: 'grpcapp' });
    assert.ok(now?.createdAtMs);
    const created = new RegExp(
      `kube_pod_created\\{namespace="default",pod="${now.name}",uid="${now.uid}"\\} ([0-9.e+]+)`,
    );
    assert.equal(Number(created.exec(metrics)?.[1]), now.createdAtMs / 1000);
    assert.match(
      metrics,
      new RegExp(`kube_pod_labels\\{namespace="default",pod="${now.name}",uid="${now.uid}",label_app="grpcapp"\\} 1`),
    );
  });

  it('keeps a crashing app in CrashLoopBackOff with the back-off capped at max', async () => {
    const pod = await waitFor(
      async () => (await client.listPods({ app: 'crashapp' })).find((p) => p.restarts >= 4),
      20_000,
      'crashapp restarted 4 times',
    );
    assert.equal(pod.ready, false);
    // uncapped, the 6th wait would be 300·2^5 = 9.6 s; capped at 1.2 s it comes round in well under 6 s even on a loaded machine
    const r = (await client.listPods({ app: 'crashapp' }))[0]?.restarts ?? 0;
    await waitFor(
      async () => ((await client.listPods({ app: 'crashapp' }))[0]?.restarts ?? 0) > r,
      10_000,
      'next crash',
    );
    const t = Date.now();
    await waitFor(
      async () => ((await client.listPods({ app: 'crashapp' }))[0]?.restarts ?? 0) > r + 1,
      10_000,
      'next crash',
    );
    assert.ok(Date.now() - t < 6000, `restart interval ${Date.now() - t} ms`);
    const metrics = await client.metricsText();
    assert.match(metrics, /kube_deployment_status_replicas_available\{namespace="default",deployment="crashapp"\} 0/);
  });

  it('holds a pod down for pod-failure until released, then restarts it in place', async () => {
    const [pod] = await client.listPods({ app: 'webapp' });
    assert.ok(pod);
    await client.holdPod(pod.name, 'f-hold', Date.now() + 60_000);
    await client.holdPod(pod.name, 'f-hold', Date.now() + 60_000); // idempotent
    const held = await waitFor(
      async () => {
        const p = await client.getPod(pod.name);
        return p && !p.ready && p.reason === 'PodFailure' ? p : undefined;
      },
      5000,
      'pod held down',
    );
    assert.equal(held.name, pod.name);
    const res = await fetch(`http://127.0.0.1:${base + 10}/`);
    assert.equal(res.status, 503, 'the Service has no endpoint while the only pod is held');
    assert.equal(await client.releaseHold(pod.name, 'f-hold'), true);
    assert.equal(await client.releaseHold(pod.name, 'f-hold'), false);
    const back = await waitFor(
      async () => {
        const p = await client.getPod(pod.name);
        return p?.ready ? p : undefined;
      },
      10_000,
      'held pod back',
    );
    assert.equal(back.restarts, pod.restarts + 1);
  });

  it('marks a SIGSTOPped pod unready and routes around it', async () => {
    const pods = await client.listPods({ app: 'grpcapp' });
    const victim = pods[0] as PodInfo;
    await client.signalPod(victim.name, 'SIGSTOP');
    await waitUntil(async () => (await client.getPod(victim.name))?.ready === false, 5000, 'stopped pod unready');
    const probe = new GrpcHealthProbe(`127.0.0.1:${base}`);
    try {
      for (let i = 0; i < 4; i++) assert.equal(await probe.check(2000), true, 'the Service still answers');
    } finally {
      probe.close();
    }
    await client.signalPod(victim.name, 'SIGCONT');
    await waitUntil(async () => (await client.getPod(victim.name))?.ready === true, 5000, 'continued pod ready');
  });

  it('delays gRPC traffic through the Service proxy while a delay fault is active, then expires it', async () => {
    const probe = new GrpcHealthProbe(`127.0.0.1:${base}`);
    try {
      assert.equal(await probe.check(2000), true);
      let t = Date.now();
      await probe.check(2000);
      const baseline = Date.now() - t;
      await client.putProxyFault('grpcapp', 'f-delay', {
        kind: 'delay',
        latencyMs: 300,
        jitterMs: 0,
        expiresAtMs: Date.now() + 2500,
      });
      await client.putProxyFault('grpcapp', 'f-delay', {
        kind: 'delay',
        latencyMs: 300,
        jitterMs: 0,
        expiresAtMs: Date.now() + 2500,
      });
      const listed = await client.listProxyFaults();
      assert.equal(listed.filter((f) => f.faultId === 'f-delay').length, 1);
      t = Date.now();
      assert.equal(await probe.check(3000), true);
      const delayed = Date.now() - t;
      assert.ok(delayed >= 280 && delayed > baseline + 200, `delayed ${delayed} ms vs ${baseline} ms`);
      assert.match(await client.metricsText(), /faultline_proxy_active_faults\{app="grpcapp",kind="delay"\} 1/);
      await waitUntil(async () => (await client.listProxyFaults()).length === 0, 5000, 'fault expired');
      t = Date.now();
      await probe.check(2000);
      assert.ok(Date.now() - t < 250, 'latency back to normal after expiry');
      assert.equal(await client.deleteProxyFault('grpcapp', 'f-delay'), false);
    } finally {
      probe.close();
    }
  });

  it('stalls chunks for a retransmission time with a 100% loss fault', async () => {
    const probe = new GrpcHealthProbe(`127.0.0.1:${base}`);
    try {
      assert.equal(await probe.check(2000), true);
      // Every chunk of the answer is held 200–400 ms; an answer takes a few of them, and on a loaded 2-core host
      // the supervisor's timers run late on top. So the check waits up to a bound far wider than any stall (a
      // fixed 3 s deadline failed under load), and what it proves is kept: the answer arrives while the fault is
      // still active (before its expiry, and the fault is still there to delete), and no sooner than one stall.
      const expiresAtMs = Date.now() + 60_000;
      await client.putProxyFault('grpcapp', 'f-loss', { kind: 'loss', percent: 100, expiresAtMs });
      const t = Date.now();
      const bound = 50 * LOSS_STALL_MAX_MS;
      assert.equal(await probe.check(bound), true, `lost chunks are late, not gone (no answer within ${bound} ms)`);
      const answeredAt = Date.now();
      assert.ok(answeredAt - t >= LOSS_STALL_MIN_MS - 5, `stalled ${answeredAt - t} ms`);
      assert.ok(answeredAt < expiresAtMs, 'answered while the 100% loss fault was active');
      assert.equal(await client.deleteProxyFault('grpcapp', 'f-loss'), true, 'the fault was active throughout');
    } finally {
      probe.close();
    }
  });

  it('limits a network fault to the listed pods of the app', async () => {
    const pods = await client.listPods({ app: 'grpcapp' });
    assert.equal(pods.filter((p) => p.ready).length, 2);
    const target = pods[0] as PodInfo;
    await client.putProxyFault('grpcapp', 'f-one', {
      kind: 'delay',
      latencyMs: 400,
      pods: [target.name],
      expiresAtMs: Date.now() + 30_000,
    });
    let delayed = 0;
    let fast = 0;
    for (let i = 0; i < 4; i++) {
      // a new connection each time: the Service alternates between the two pods
      const probe = new GrpcHealthProbe(`127.0.0.1:${base}`);
      try {
        assert.equal(await probe.check(3000), true);
        const t = Date.now();
        assert.equal(await probe.check(3000), true);
        if (Date.now() - t >= 380) delayed++;
        else fast++;
      } finally {
        probe.close();
      }
    }
    await client.deleteProxyFault('grpcapp', 'f-one');
    assert.ok(delayed >= 1 && fast >= 1, `delayed ${delayed}, fast ${fast}`);
  });

  it('aborts and delays HTTP requests with http-abort / http-delay faults and refuses them on gRPC apps', async () => {
    const url = `http://127.0.0.1:${base + 10}/`;
    await client.putProxyFault('webapp', 'f-abort', {
      kind: 'http-abort',
      statusCode: 418,
      percent: 100,
      expiresAtMs: Date.now() + 30_000,
    });
    assert.equal((await fetch(url)).status, 418);
    await client.deleteProxyFault('webapp', 'f-abort');
    await client.putProxyFault('webapp', 'f-hd', {
      kind: 'http-delay',
      latencyMs: 300,
      percent: 100,
      expiresAtMs: Date.now() + 30_000,
    });
    const t = Date.now();
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(await res.text(), POD_NAME_RE);
    assert.ok(Date.now() - t >= 280);
    await client.deleteProxyFault('webapp', 'f-hd');
    await assert.rejects(
      client.putProxyFault('grpcapp', 'f-bad', { kind: 'http-abort', expiresAtMs: Date.now() + 1000 }),
      /HTTP services only/,
    );
    assert.match(await client.metricsText(), /faultline_proxy_http_responses_total\{app="webapp",code="418"\} 1/);
  });

  it('serves every running pod to Prometheus http_sd with pod and app labels', async () => {
    const res = await fetch(`${supervisorUrl}/sd/pods`);
    const groups = (await res.json()) as { targets: string[]; labels: Record<string, string> }[];
    const pods = await client.listPods({ app: 'grpcapp' });
    for (const p of pods) {
      const g = groups.find((x) => x.labels.pod === p.name);
      assert.ok(g, `${p.name} in SD`);
      assert.equal(g.labels.app, 'grpcapp');
      const m = await fetch(`http://${g.targets[0]}/metrics`);
      assert.equal(m.status, 200);
    }
  });

  it('refuses to start on a taken port with the setting to change, and leaves the running one alone', async () => {
    // A second supervisor (own data dir: a shared one would reap the first one's pods) on ports the first holds.
    async function startFails(config: SupervisorConfigInput): Promise<string> {
      const file = path.join(dir, `clash-${config.port}-${config.apps.length}.json`);
      writeFileSync(file, JSON.stringify(config));
      const p = spawn(process.execPath, [supervisorMainPath(), '--config', file], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      p.stderr?.on('data', (b: Buffer) => (err += b.toString()));
      const [code] = (await once(p, 'exit')) as [number | null];
      assert.equal(code, 1, err);
      return err;
    }
    const common = { dataDir: path.join(dir, 'clash-data'), proxy: { noEndpointWaitMs: 300 } };
    const apiPort = Number(new URL(supervisorUrl).port);
    const api = await startFails({ ...common, port: apiPort, apps: [] });
    assert.match(
      api,
      new RegExp(`supervisor API: port ${apiPort} on 127\\.0\\.0\\.1 is already in use \\(target\\.supervisorPort\\)`),
    );
    const taken = app('grpcapp', 'grpc', 1, 0, 'grpc');
    const proxy = await startFails({ ...common, port: await freePort(), apps: [taken] });
    assert.match(
      proxy,
      /service proxy for grpcapp: port \d+ on 127\.0\.0\.1 is already in use \(target\.basePort \(the grpcapp service's port\)\)/,
    );
    assert.match(proxy, /stop whatever listens there/);
    assert.ok(await client.healthy(), 'the running supervisor still answers');
    assert.equal((await client.listPods({ app: 'grpcapp' })).filter((x) => x.ready).length, 2);
  });
});
