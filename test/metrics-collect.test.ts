import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createMetricsActivities,
  readArrowTable,
  resolveFeatures,
  chunksOf,
  gridOf,
  phaseGrids,
} from '../activities/metrics';
import type { CollectInput, CollectResult } from '../activities/metrics/types';
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

describe('metrics collect: phase grids', () => {
  it('gives a boundary instant shared by two phases to the earlier one, so no timestamp repeats', () => {
    // the campaign records baseline's end and chaos's start in one workflow task: equal, here on the grid
    const [baseline, chaos] = phaseGrids(
      [
        { startMs: 10_000, endMs: 15_000 },
        { startMs: 15_000, endMs: 18_000 },
      ],
      1000,
    );
    assert.deepEqual([...baseline!], [10_000, 11_000, 12_000, 13_000, 14_000, 15_000]);
    assert.deepEqual([...chaos!], [16_000, 17_000, 18_000]);
    // off the grid, or with a gap between phases, nothing changes
    const [a, b] = phaseGrids(
      [
        { startMs: 10_500, endMs: 12_300 },
        { startMs: 12_300, endMs: 14_000 },
      ],
      1000,
    );
    assert.deepEqual([...a!, ...b!], [11_000, 12_000, 13_000, 14_000]);
    assert.deepEqual([...a!], [...gridOf(10_500, 12_300, 1000)]);
  });
});

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

  it('collects back-to-back phases whose boundary is on the grid without repeating its timestamp', async () => {
    const features = featuresSchema.parse({ rateWindow: '5s' });
    const t = Math.floor(Date.now() / 1000) * 1000;
    const result = await createMetricsActivities().collectMetrics({
      campaignId: 'c-boundary',
      dataDir: join(home, 'campaign-boundary'),
      prometheusUrl: stack!.prometheusUrl,
      phases: [
        { name: 'baseline', startMs: t - 60_000, endMs: t - 30_000 },
        { name: 'chaos', startMs: t - 30_000, endMs: t },
      ],
      features,
      stepMs: 1000,
    });
    const ts = async (phase: string) => [...(await readArrowTable(result.tables[phase]!)).columns.get('timestamp')!];
    const [baseline, chaos] = [await ts('baseline'), await ts('chaos')];
    assert.equal(baseline.at(-1), t - 30_000, "the boundary point is the baseline table's last");
    assert.equal(chaos[0], t - 29_000, "and not the chaos table's first");
    assert.equal(result.rows, 61);
    const all = [...baseline, ...chaos];
    assert.ok(
      all.every((v, i) => i === 0 || v > all[i - 1]!),
      'timestamps increase across the phases (the dataset refuses repeats: "phases overlap?")',
    );
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

describe('metrics collect (query_range client against a scripted Prometheus)', () => {
  let server: Server | undefined;
  let url = '';
  let requests: Array<{ start: number; end: number; step: number }> = [];
  let failNext = 0;
  /** The scripted Prometheus has no sample at these epoch-ms times. */
  const missing = new Set<number>();

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const [start, end, step] = ['start', 'end', 'step'].map((k) => Number(form.get(k)));
        requests.push({ start: start!, end: end!, step: step! });
        if (failNext > 0) {
          failNext--;
          res.writeHead(503).end('overloaded');
          return;
        }
        const values: Array<[number, string]> = [];
        for (let t = start!; t <= end! + 1e-9; t += step!)
          if (!missing.has(Math.round(t * 1000))) values.push([t, String(Math.round(t) % 100)]);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values }] } }),
        );
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${port}`;
  });
  after(() => server?.close());

  it('chunks, retries 503s with back-off, records gaps and heartbeats; a retried attempt resumes from disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fl-metrics-scripted-'));
    try {
      const t0 = 1_767_225_600_000;
      missing.clear();
      [t0 + 3000, t0 + 4000, t0 + 20_000].forEach((t) => missing.add(t));
      requests = [];
      failNext = 2;
      const input: CollectInput = {
        campaignId: 'c',
        dataDir: dir,
        prometheusUrl: url,
        phases: [{ name: 'baseline', startMs: t0 - 500, endMs: t0 + 24_400 }],
        features: featuresSchema.parse({ sets: [], extra: [{ name: 'x', query: 'sum(x)' }] }),
        stepMs: 1000,
      };
      const { collectMetrics } = createMetricsActivities({ queryRange: { maxPointsPerChunk: 10, backoffMs: 5 } });
      const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 10_000 });
      const beats: unknown[] = [];
      env.on('heartbeat', (d: unknown) => beats.push(d));
      const result = await env.run<[CollectInput], CollectResult, typeof collectMetrics>(collectMetrics, input);
      // grid t0..t0+24 s: 25 points, chunks of 10 → 3 chunks, plus 2 retried 503s
      assert.equal(result.rows, 25);
      assert.equal(requests.length, 5);
      assert.deepEqual(
        requests.slice(2).map((r) => [r.start * 1000 - t0, r.end * 1000 - t0]),
        [
          [0, 9000],
          [10_000, 19_000],
          [20_000, 24_000],
        ],
      );
      assert.equal(result.gaps, 2);
      const x = (await readArrowTable(result.tables['baseline']!)).columns.get('x')!;
      assert.ok(Number.isNaN(x[3]!) && Number.isNaN(x[4]!) && Number.isNaN(x[20]!));
      assert.equal(x[5], Math.round((t0 + 5000) / 1000) % 100);
      assert.ok(beats.length >= 3, 'heartbeats per chunk');

      requests = [];
      const resumed = new MockActivityEnvironment({ heartbeatDetails: beats[beats.length - 1] });
      const again = await resumed.run<[CollectInput], CollectResult, typeof collectMetrics>(collectMetrics, input);
      assert.equal(requests.length, 0);
      assert.equal(again.gaps, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives up after the configured attempts with a retryable PrometheusUnavailable failure', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fl-metrics-down-'));
    try {
      requests = [];
      failNext = 100;
      const { collectMetrics } = createMetricsActivities({ queryRange: { attempts: 3, backoffMs: 5 } });
      await assert.rejects(
        collectMetrics({
          campaignId: 'c',
          dataDir: dir,
          prometheusUrl: url,
          phases: [{ name: 'chaos', startMs: 0, endMs: 5000 }],
          features: featuresSchema.parse({ sets: [], extra: [{ name: 'x', query: 'sum(x)' }] }),
          stepMs: 1000,
        }),
        (err: Error & { type?: string; nonRetryable?: boolean }) => {
          assert.equal(err.type, 'PrometheusUnavailable');
          assert.equal(err.nonRetryable, false);
          assert.match(err.message, /feature x: query_range .* failed 3 times: HTTP 503/);
          return true;
        },
      );
      assert.equal(requests.length, 3);
    } finally {
      failNext = 0;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
