import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { FaultType } from '../schemas/faults';
import { LocalInjector, faultKey } from '../activities/chaos/injector';
import type { ResolvedFault } from '../activities/chaos/kinds/kind';
import { promInstant } from '../activities/chaos/abort';
import { NODE_EXPORTER_BIN, nodeExporterArgs } from '../infra/local/node-exporter/node-exporter';
import { PROMETHEUS_BIN } from '../infra/local/prometheus/prometheus';
import { allReady, startTestSupervisor, type TestSupervisor } from './chaos-support';
import { freePort, waitUntil } from './helpers/ports';
import { resolveFeatures } from '../activities/metrics/features';
import { featuresSchema } from '../schemas/features';
import { restoreEnv } from './helpers/env';

/**
 * Every fault type leaves a trace in Prometheus: real Prometheus (1 s scrapes) over node-exporter, the supervisor's
 * kube-state-like metrics and the two services scraped through their fault proxies.
 */
describe('chaos: every fault type is measurable in Prometheus', function () {
  this.timeout(180_000);
  let sup: TestSupervisor;
  let prom: ChildProcess | undefined;
  let exporter: ChildProcess | undefined;
  let promUrl = '';
  let home = '';
  let previousHome: string | undefined;
  const q = async (query: string) => (await promInstant(promUrl, query)) ?? NaN;

  before(async function () {
    if (!existsSync(PROMETHEUS_BIN) || !existsSync(NODE_EXPORTER_BIN)) this.skip(); // infra/setup.sh installs them
    home = mkdtempSync(join(tmpdir(), 'faultline-chaos-prom-'));
    previousHome = process.env.FAULTLINE_HOME;
    process.env.FAULTLINE_HOME = home;
    sup = await startTestSupervisor([
      { app: 'frontend', replicas: 1 },
      { app: 'cartservice', replicas: 2 },
    ]);
    const exporterPort = await freePort();
    exporter = spawn(NODE_EXPORTER_BIN, nodeExporterArgs(exporterPort), { stdio: 'ignore' });
    const promPort = await freePort();
    const target = (u: string) => u.replace(/^http:\/\//, '');
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      scrape_configs: [
        { job_name: 'node', static_configs: [{ targets: [`127.0.0.1:${exporterPort}`] }] },
        { job_name: 'supervisor', honor_labels: true, static_configs: [{ targets: [target(sup.url)] }] },
        { job_name: 'svc-frontend', static_configs: [{ targets: [target(sup.serviceUrl.frontend ?? '')] }] },
        { job_name: 'svc-cartservice', static_configs: [{ targets: [target(sup.serviceUrl.cartservice ?? '')] }] },
      ],
    };
    writeFileSync(join(home, 'prometheus.yml'), stringify(config));
    prom = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${join(home, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(home, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ],
      { stdio: 'ignore' },
    );
    promUrl = `http://127.0.0.1:${promPort}`;
    await waitUntil(async () => (await q('count(up == 1)')) === 4, 60_000, 'Prometheus scraping all four targets');
  });

  after(async () => {
    prom?.kill('SIGTERM');
    exporter?.kill('SIGTERM');
    await sup?.stop();
    if (prom && prom.exitCode === null && prom.signalCode === null) await once(prom, 'exit');
    if (home) {
      restoreEnv('FAULTLINE_HOME', previousHome);
      rmSync(home, { recursive: true, force: true });
    }
  });

  let n = 0;
  async function fault(
    type: FaultType,
    app: string,
    params: Record<string, unknown>,
    durationMs: number,
  ): Promise<ResolvedFault> {
    n += 1;
    const pods = await sup.client.listPods({ app });
    const now = Date.now();
    return {
      id: `p${n}`,
      campaignId: 'prom',
      key: faultKey('prom', `p${n}`),
      type,
      namespace: 'default',
      app,
      pods: pods.slice(0, 1),
      params,
      plannedMs: now,
      endMs: now + durationMs,
      detail: { readyBefore: pods.filter((p) => p.ready).length },
    };
  }

  it('pod-kill, http-abort, network-delay and memory-stress', async () => {
    const inj = new LocalInjector(sup.url);
    const restarts0 = await q('sum(faultline_app_restarts_total{app="cartservice"})');
    const r5030 = (await q('sum(faultline_proxy_http_responses_total{app="frontend",code="503"})')) || 0;
    const mem0 = await q('node_memory_MemAvailable_bytes');
    const faults = [
      await fault('pod-kill', 'cartservice', {}, 30_000),
      await fault('http-abort', 'frontend', { code: 503, percent: 100 }, 30_000),
      await fault('network-delay', 'cartservice', { latency: '600ms', jitter: '0ms' }, 30_000),
      // on another service than the pod-kill: a stress runs inside its pod's cgroup, which dies with a killed pod
      await fault('memory-stress', 'frontend', { workers: 1, size: '1GB' }, 30_000),
    ];
    for (const f of faults) await inj.apply(f);
    try {
      await Promise.all([
        waitUntil(
          async () => (await q('sum(faultline_app_restarts_total{app="cartservice"})')) > restarts0,
          20_000,
          'pod-kill: restarts up',
        ),
        waitUntil(
          async () => (await q('sum(faultline_proxy_http_responses_total{app="frontend",code="503"})')) > r5030,
          20_000,
          'http-abort: 503s in the proxy metrics',
        ),
        waitUntil(
          async () =>
            (await q('scrape_duration_seconds{job="svc-cartservice"}')) >= 0.5 ||
            (await q('up{job="svc-cartservice"}')) === 0,
          20_000,
          'network-delay: slow scrapes of cartservice',
        ),
        waitUntil(
          async () => mem0 - (await q('node_memory_MemAvailable_bytes')) > 500e6,
          20_000,
          'memory-stress: MemAvailable down by > 500 MB',
        ),
      ]);
    } finally {
      for (const f of faults) await inj.recover(f);
    }
    await allReady(sup.client, 30_000);
  });

  it('a network delay on the frontend shows in its latency as its clients see it (svc_frontend_client_p95)', async () => {
    const inj = new LocalInjector(sup.url);
    const delayOn = async (app: string) => {
      const f = await fault('network-delay', app, { latency: '400ms', jitter: '0ms' }, 30_000);
      f.pods = await sup.client.listPods({ app }); // every pod: requests are balanced over them
      await inj.apply(f);
      return f;
    };
    // HTTP: the frontend's Service proxy times each request; the feature column's own query reads it
    const [p95] = resolveFeatures(
      featuresSchema.parse({ set: 'stock-cluster', services: ['frontend'], requestMetrics: 'app', rateWindow: '5s' }),
    ).filter((x) => x.name === 'svc_frontend_client_p95');
    assert.ok(p95);
    const f2 = await delayOn('frontend');
    try {
      await waitUntil(
        async () => {
          await fetch(`${sup.serviceUrl.frontend}/_healthz`).then((r) => r.text());
          return (await q(p95.query)) >= 0.39;
        },
        20_000,
        'svc_frontend_client_p95 ≥ 0.4 s under a 400 ms delay on the frontend',
      );
    } finally {
      await inj.recover(f2);
    }
  });

  it('pod-failure, http-delay, network-loss and cpu-stress', async () => {
    const inj = new LocalInjector(sup.url);
    const procs0 = await q('avg_over_time(node_procs_running[10s])');
    const faults = [
      await fault('pod-failure', 'cartservice', {}, 30_000),
      await fault('http-delay', 'frontend', { delay: '700ms', percent: 100 }, 30_000),
      await fault('network-loss', 'cartservice', { loss: 100 }, 30_000),
      // not the pod the pod-failure kills: a stress runs inside its pod's cgroup and dies with it
      await fault('cpu-stress', 'frontend', { workers: 6, load: 100 }, 30_000),
    ];
    for (const f of faults) await inj.apply(f);
    try {
      await Promise.all([
        waitUntil(
          async () =>
            (await q(
              'sum(kube_pod_status_ready{condition="true"} * on(namespace, pod) group_left(label_app) kube_pod_labels{label_app="cartservice"})',
            )) < 2,
          20_000,
          'pod-failure: a cartservice pod not ready',
        ),
        waitUntil(
          async () =>
            (await q('scrape_duration_seconds{job="svc-frontend"}')) >= 0.6 ||
            (await q('up{job="svc-frontend"}')) === 0,
          20_000,
          'http-delay: slow scrapes of frontend',
        ),
        waitUntil(
          async () =>
            (await q('scrape_duration_seconds{job="svc-cartservice"}')) >= 0.19 ||
            (await q('up{job="svc-cartservice"}')) === 0,
          20_000,
          'network-loss: stalled scrapes of cartservice',
        ),
        // more runnable processes than before (on a busy shared host the CPU-time rate alone cannot tell)
        waitUntil(
          async () => (await q('avg_over_time(node_procs_running[5s])')) >= procs0 + 2,
          20_000,
          'cpu-stress: runnable processes up',
        ),
      ]);
    } finally {
      for (const f of faults) await inj.recover(f);
    }
    assert.deepEqual(await sup.client.listProxyFaults(), []);
    await allReady(sup.client, 30_000);
  });
});
