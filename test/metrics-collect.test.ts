import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMetricsActivities, readArrowTable, resolveFeatures, chunksOf, gridOf } from '../activities/metrics';
import type { CollectInput } from '../activities/metrics/types';
import { ensureStack, stopStack, type StackInfo } from '../infra/local/stack';
import { PORT_SPAN } from '../infra/local/ports';
import { featuresSchema } from '../schemas/features';
import { localTargetSchema } from '../schemas/target';
import { freePort, freePortRange, waitUntil } from './helpers/ports';

interface PromVector {
  data: { result: Array<{ value: [number, string] }> };
}

async function instant(url: string, query: string): Promise<number> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as PromVector;
  return Number(body.data.result[0]?.value[1] ?? NaN);
}

describe('metrics collect (real Prometheus of the local stack)', function () {
  this.timeout(240_000);
  let home = '';
  let stack: StackInfo | undefined;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'fl-metrics-collect-'));
    const target = localTargetSchema.parse({
      type: 'local',
      basePort: await freePortRange(PORT_SPAN),
      prometheus: { port: await freePort(), scrapeInterval: '1s' },
      nodeExporterPort: await freePort(),
      supervisorPort: await freePort(),
      redisPort: await freePort(),
    });
    stack = await ensureStack({ home, target, startTimeoutMs: 90_000 });
    const prom = stack.prometheusUrl;
    // Some frontend traffic so the HTTP request series exist, then ≥ 20 scrapes of everything.
    await waitUntil(
      async () => {
        await fetch(`${stack!.frontendUrl}/`)
          .then((r) => r.text())
          .catch(() => '');
        return (
          (await instant(prom, 'count_over_time(node_load1[2m])')) >= 20 &&
          (await instant(prom, 'sum(http_requests_total)')) > 0 &&
          (await instant(prom, 'count(kube_deployment_status_replicas_available >= 1)')) === 10
        );
      },
      150_000,
      '20 s of scraped node metrics, frontend traffic and every deployment available',
    );
  });

  after(async () => {
    if (home) {
      await stopStack({ home });
      await rm(home, { recursive: true, force: true });
    }
  });

  it('returns every configured feature for a 2-minute window over chunked query_range calls, gaps recorded', async () => {
    const prom = stack!.prometheusUrl;
    const features = featuresSchema.parse({ rateWindow: '5s', extra: [{ name: 'prom_up', query: 'sum(up)' }] });
    const names = resolveFeatures(features).map((f) => f.name);
    const endMs = Math.floor(Date.now() / 1000) * 1000;
    const input: CollectInput = {
      campaignId: 'c-collect',
      dataDir: join(home, 'campaign'),
      prometheusUrl: prom,
      phases: [{ name: 'baseline', startMs: endMs - 120_000, endMs }],
      features,
      stepMs: 1000,
    };
    let requests = 0;
    const countingFetch: typeof fetch = (url, init) => {
      requests++;
      return fetch(url, init);
    };
    // 121 points in chunks of 50: three query_range calls per feature.
    const { collectMetrics } = createMetricsActivities({
      queryRange: { maxPointsPerChunk: 50, fetchImpl: countingFetch },
    });
    assert.equal(chunksOf(gridOf(input.phases[0]!.startMs, endMs, 1000), 50).length, 3);
    const result = await collectMetrics(input);
    assert.equal(requests, names.length * 3);
    assert.deepEqual(result.features, names);
    assert.equal(result.rows, 121);
    assert.ok(result.gaps > 0, 'the minutes before the stack started are gaps');

    const table = await readArrowTable(result.tables['baseline']!);
    assert.deepEqual(table.names, ['timestamp', ...names]);
    const ts = table.columns.get('timestamp')!;
    assert.equal(ts[0], endMs - 120_000);
    assert.equal(ts[120], endMs);
    const last = (name: string) => table.columns.get(name)![120]!;
    for (const name of [
      'node_load1',
      'node_load5',
      'node_load15',
      'cpu_util',
      'mem_util',
      'disk_read_mbps',
      'disk_write_mbps',
      'net_rx_mbps',
      'net_tx_mbps',
      'fs_util',
    ]) {
      assert.ok(Number.isFinite(last(name)), `${name} has a value at the end of the window (got ${last(name)})`);
    }
    assert.ok(last('cpu_util') >= 0 && last('cpu_util') <= 1);
    assert.ok(last('mem_util') > 0 && last('mem_util') < 1);
    assert.ok(last('net_rx_mbps') > 0, 'scrapes over loopback are network traffic');
    if (process.env.FL_DEBUG) for (const n of names) console.log(n, last(n));
    assert.ok(last('svc_frontend_ready_replicas') >= 1);
    assert.ok(last('svc_cartservice_ready_replicas') >= 1);
    assert.ok(Number.isFinite(last('svc_frontend_request_rate')));
    assert.ok(Number.isFinite(last('svc_frontend_error_rate')));
    assert.ok(last('prom_up') >= 3);
    const gaps = JSON.parse(await readFile(result.gapFiles!['baseline']!, 'utf8')) as {
      gaps: Record<string, Array<{ startMs: number }>>;
    };
    assert.equal(
      gaps.gaps['node_load1']?.[0]?.startMs,
      endMs - 120_000,
      'a gap is recorded from the window start, not invented',
    );
    assert.ok(Number.isNaN(table.columns.get('node_load1')![0]!));

    // A retried attempt resumes from the finished series: no query is sent again.
    requests = 0;
    const again = await collectMetrics(input);
    assert.equal(requests, 0);
    assert.deepEqual(again.features, names);
  });

  it('fails without retrying on a query Prometheus rejects, naming the feature', async () => {
    const { collectMetrics } = createMetricsActivities({ queryRange: { attempts: 3, backoffMs: 10 } });
    const endMs = Math.floor(Date.now() / 1000) * 1000;
    await assert.rejects(
      collectMetrics({
        campaignId: 'c-bad',
        dataDir: join(home, 'bad'),
        prometheusUrl: stack!.prometheusUrl,
        phases: [{ name: 'baseline', startMs: endMs - 10_000, endMs }],
        features: featuresSchema.parse({ sets: [], extra: [{ name: 'broken', query: 'sum(rate(node_load1[' }] }),
        stepMs: 1000,
      }),
      (err: Error & { type?: string; nonRetryable?: boolean }) => {
        assert.equal(err.type, 'InvalidFeatureQuery');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /feature broken/);
        return true;
      },
    );
  });
});
