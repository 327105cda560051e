import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { createKubernetesInjector } from '../activities/chaos/chaos-mesh';
import { BatchEngine, removeAll } from '../activities/chaos/engine';
import { FaultLog, readFaultLog, readFaultLogEvents } from '../activities/chaos/fault-log';
import { faultLogPath } from '../activities/chaos/paths';
import type { InjectBatchInput, PlannedFault } from '../activities/chaos/types';
import { buildDatasetFromTables } from '../activities/dataset/build';
import { readFaultRecords } from '../activities/dataset/fault-records';
import { createTarget } from '../activities/deploy/create-target';
import type { Target } from '../activities/deploy/target';
import type { TargetEndpoints } from '../activities/deploy/types';
import { readArrowTable } from '../activities/metrics/arrow-table';
import { collectMetricsImpl } from '../activities/metrics/collect';
import type { CampaignConfigInput } from '../schemas/campaign';
import { datasetSchema } from '../schemas/dataset';
import { chaosSchema, type FaultType } from '../schemas/faults';
import { featuresSchema } from '../schemas/features';
import { kubernetesTargetSchema, type KubernetesTargetConfig } from '../schemas/target';
import type { CampaignResult } from '../workflows/campaign';
import type { LocalisationResults } from '../activities/localise/localise';
import { progressQuery } from '../workflows/messages';
import { repoRoot } from '../infra/local/paths';
import { CampaignEnv } from './helpers/campaign-env';
import {
  sharedCluster,
  startClusterPrometheus,
  type ClusterInfo,
  type RunningPrometheus,
} from './helpers/kube-cluster';
import { waitUntil } from './helpers/ports';
import { uniqueId } from './helpers/temporal';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const CHAOS_KINDS = 'podchaos,networkchaos,stresschaos,httpchaos,workflows';

/** Prometheus range query → [timestamp ms, value][] per series (labels joined for messages). */
async function promRange(url: string, query: string, startMs: number, endMs: number) {
  const u = new URL('/api/v1/query_range', url);
  u.searchParams.set('query', query);
  u.searchParams.set('start', String(startMs / 1000));
  u.searchParams.set('end', String(endMs / 1000));
  u.searchParams.set('step', '1');
  const body = (await (await fetch(u)).json()) as {
    data: { result: { metric: Record<string, string>; values: [number, string][] }[] };
  };
  return body.data.result.map((r) => ({ metric: r.metric, points: r.values.map(([t, v]) => [t * 1000, Number(v)]) }));
}

/**
 * The Kubernetes path past the API, against the real control plane (test/helpers/kube-cluster.ts): the real
 * Chaos Mesh controller acts on faultline's objects, kwok plays the kubelet (seconds-long pod start-up),
 * kube-state-metrics exports what happened and a real Prometheus scrapes it every second.
 */
describe('Kubernetes end to end on the local control plane', function () {
  this.timeout(300_000);
  let c: ClusterInfo;
  let prom: RunningPrometheus;
  const kubectl = async (...args: string[]) =>
    (await run(join(c.binDir, 'kubectl'), ['--kubeconfig', c.kubeconfigPath, ...args], { maxBuffer: 32 << 20 })).stdout;

  before(async function () {
    this.timeout(240_000);
    c = await sharedCluster();
    prom = await startClusterPrometheus(c, { scrapeInterval: '1s', nodeExporter: true });
  });
  after(async () => {
    await prom?.stop();
  });

  it('pod-kill: PodChaos → Chaos Mesh kills → ReplicaSet replaces → fault log → kube-state-metrics → Prometheus → labelled dataset', async () => {
    const ns = 'kube-e2e-podkill';
    const campaignId = uniqueId('kube-podkill');
    const home = mkdtempSync(join(tmpdir(), 'faultline-kube-e2e-'));
    process.env.FAULTLINE_HOME = home; // the chaos engine's halt marker lives there
    const dataDir = join(home, 'campaigns', 'podkill');
    const cfg: KubernetesTargetConfig = kubernetesTargetSchema.parse({
      type: 'kubernetes',
      namespace: ns,
      kubeconfig: c.kubeconfigPath,
      prometheusUrl: prom.url,
      portForward: false, // kwok's pods serve nothing (the port-forward path has its own tests)
    });
    const target: Target = createTarget(cfg, campaignId);
    try {
      const deployedAt = Date.now();
      const endpoints: TargetEndpoints = await target.deploy();
      await target.waitReady(120_000);
      console.log(`      deploy + every rollout: ${((Date.now() - deployedAt) / 1000).toFixed(1)} s`);
      const before = await target.listPods({ app: 'cartservice' });
      assert.equal(before.length, 1);
      assert.ok(before[0]?.ready);

      // the deploy's own pod churn has left the features' 15 s window before the baseline starts
      await sleep(Math.max(2000, deployedAt + 17_000 - Date.now()));
      const baselineStart = Date.now();
      await sleep(12_000);
      const chaosStart = Date.now();
      const specs: { type: FaultType; app: string; params?: Record<string, unknown> }[] = [
        { type: 'pod-kill', app: 'cartservice' },
        { type: 'network-delay', app: 'productcatalogservice', params: { latency: '300ms' } },
        { type: 'cpu-stress', app: 'currencyservice', params: { workers: 1, load: 50 } },
        { type: 'http-abort', app: 'frontend', params: { code: 503, percent: 50 } },
      ];
      const chaos = chaosSchema.parse({
        seed: 7,
        episodes: null,
        faults: specs.map((s) => ({
          type: s.type,
          selector: { namespace: ns, app: s.app },
          duration: '4s',
          params: s.params ?? {},
        })),
        guard: { allowedNamespaces: [ns], maxConcurrent: 4 },
      });
      const faults: PlannedFault[] = specs.map((s, i) => ({
        id: `f${String(i).padStart(6, '0')}`,
        seq: i,
        specIndex: i,
        type: s.type,
        plannedMs: chaosStart + 2000 + i * 700,
        durationMs: s.type === 'pod-kill' ? 4000 : 3000,
        seed: 100 + i,
      }));
      const input: InjectBatchInput = {
        campaignId,
        dataDir,
        target: cfg,
        endpoints,
        chaos,
        faults,
        epoch: 0,
        serviceUntilMs: chaosStart + 15_000,
      };
      // Chaos Mesh's objects as kubectl sees them while the batch runs (not through faultline's client)
      const seen = new Map<string, Set<string>>();
      let watching = true;
      const observer = (async () => {
        while (watching) {
          const list = JSON.parse(
            await kubectl('-n', ns, 'get', CHAOS_KINDS, '-o', 'json').catch(() => '{"items":[]}'),
          ) as {
            items: { kind: string; metadata: { name: string }; status?: { experiment?: { desiredPhase?: string } } }[];
          };
          for (const o of list.items) {
            const s = seen.get(o.kind) ?? new Set<string>();
            s.add(o.status?.experiment?.desiredPhase ?? 'created');
            seen.set(o.kind, s);
          }
          await sleep(250);
        }
      })();
      const log = FaultLog.open(faultLogPath(dataDir));
      const injector = createKubernetesInjector(cfg, campaignId);
      let res;
      try {
        res = await new BatchEngine(injector, log, input, {
          heartbeat: () => undefined,
          sleep,
          now: Date.now,
        }).run();
        // the campaign's cleanup (removeAllFaults): every object of the campaign goes, finalizers and all
        await removeAll(injector, log, campaignId, { watchMs: 5000 });
      } finally {
        await log.flush().catch(() => undefined);
        log.close();
        watching = false;
        await observer;
      }
      const chaosEnd = Date.now();
      const records = readFaultLog(faultLogPath(dataDir));
      const detail = JSON.stringify(records, null, 1);
      assert.equal(res.injected, 4, detail);

      // every kind was created in the cluster (the CRDs accepted it) and is gone again
      assert.deepEqual(
        [...seen.keys()].sort(),
        ['HTTPChaos', 'NetworkChaos', 'PodChaos', 'StressChaos'],
        JSON.stringify([...seen]),
      );
      assert.equal((await kubectl('-n', ns, 'get', CHAOS_KINDS, '-o', 'name')).trim(), '');

      // the kill: the pod the log names is gone, its ReplicaSet made a new one, the recovery watch saw it ready
      const kill = records.find((r) => r.type === 'pod-kill');
      assert.ok(kill?.appliedMs && kill.removedMs && kill.recoveredMs, detail);
      const killed = kill.target.pods[0] as string;
      assert.equal(killed, before[0]?.name);
      const after = await target.listPods({ app: 'cartservice' });
      assert.equal(after.length, 1);
      assert.notEqual(after[0]?.name, killed);
      assert.ok(after[0]?.ready);
      const replacement = String(after[0]?.name);
      // the other kinds were applied and removed; nothing can show their effect without a container runtime
      for (const r of records.filter((x) => x.type !== 'pod-kill')) {
        assert.ok(r.appliedMs !== undefined && r.removedMs !== undefined, `${r.type}: ${r.status}`);
      }
      // Chaos Mesh cannot finish removing a network or HTTP fault it never injected (no chaos daemon: its records
      // stay "Not Injected/Wait"); the cleanup removed those finalizers and said so in the log
      const removalNotes = readFaultLogEvents(faultLogPath(dataDir))
        .filter((e) => e.ev === 'removed' && 'note' in e && /finalizer/.test(String(e.note)))
        .map((e) => ('id' in e ? e.id : ''));
      console.log(`      finalizers removed by the cleanup for: ${removalNotes.join(', ') || 'none'}`);

      // kube-state-metrics → Prometheus: the replacement pod appears, not ready for a few seconds, then ready
      await sleep(3000);
      const ready = await promRange(
        prom.url,
        `kube_pod_status_ready{namespace="${ns}",pod=~"cartservice-.*",condition="true"}`,
        chaosStart,
        Date.now(),
      );
      const newSeries = ready.find((s) => s.metric.pod === replacement);
      assert.ok(newSeries, `no readiness series for ${replacement}: ${JSON.stringify(ready.map((s) => s.metric.pod))}`);
      const notReadySeconds = newSeries.points.filter(([, v]) => v === 0).length;
      assert.ok(notReadySeconds >= 1, `the replacement was never seen not ready: ${JSON.stringify(newSeries.points)}`);
      assert.equal(newSeries.points.at(-1)?.[1], 1);
      console.log(
        `      kill → replacement ready: ${((kill.recoveredMs - kill.appliedMs) / 1000).toFixed(1)} s; ` +
          `not ready for ${notReadySeconds} scrape(s)`,
      );

      // collect → dataset: the pod-churn and readiness features show the kill, labelled from the fault log
      const collected = await collectMetricsImpl({
        campaignId,
        dataDir,
        prometheusUrl: prom.url,
        phases: [
          { name: 'baseline', startMs: baselineStart, endMs: chaosStart },
          { name: 'chaos', startMs: chaosStart, endMs: chaosEnd },
        ],
        features: featuresSchema.parse({}),
        stepMs: 1000,
      });
      const ds = await buildDatasetFromTables({
        campaignId,
        configHash: 'kube-e2e',
        outDir: join(dataDir, 'dataset'),
        tables: collected.tables,
        faults: await readFaultRecords(faultLogPath(dataDir)),
        faultLogPath: faultLogPath(dataDir),
        config: datasetSchema.parse({ window: { size: 5 }, valChaosFraction: 0.3 }),
        stepMs: 1000,
        csv: false,
      });
      const points = await readArrowTable(join(ds.dir, 'points.arrow'));
      const col = (n: string) => {
        const v = points.columns.get(n);
        assert.ok(v, `feature ${n} is not in the dataset (kept: ${points.names.join(', ')})`);
        return v;
      };
      const churn = col('svc_cartservice_pods_created');
      const readyReplicas = col('svc_cartservice_ready_replicas');
      const anomaly = col('is_anomaly');
      const types = points.strings.get('fault_type') ?? [];
      const rows = [...anomaly.keys()];
      const killRows = rows.filter((i) => anomaly[i] === 1 && (types[i] ?? '').includes('pod-kill'));
      assert.ok(killRows.length > 0, 'rows labelled pod-kill');
      assert.ok(
        killRows.some((i) => (churn[i] as number) >= 1),
        'svc_cartservice_pods_created counts the replacement inside the pod-kill window',
      );
      assert.ok(
        killRows.some((i) => (readyReplicas[i] as number) < Math.max(...readyReplicas)),
        'svc_cartservice_ready_replicas dips inside the pod-kill window',
      );
      const normal = rows.filter((i) => anomaly[i] === 0 && i < killRows[0]!);
      assert.ok(
        normal.every((i) => churn[i] === 0),
        'no churn before the kill',
      );
      // node series (node-exporter) are there too
      assert.ok(points.names.includes('cpu_util') && points.names.includes('mem_util'), points.names.join(', '));
    } finally {
      await target.teardown();
    }
    await waitUntil(
      async () => !(await kubectl('get', 'namespace', '-o', 'name')).includes(`namespace/${ns}\n`),
      60_000,
      `namespace ${ns} gone`,
    );
  });

  describe('a campaign with target.type kubernetes (Temporal workers, no traffic or browser)', () => {
    let env: CampaignEnv;
    before(async function () {
      this.timeout(240_000);
      env = await CampaignEnv.start({ stack: false });
    });
    after(async function () {
      this.timeout(60_000);
      await env?.stop();
    });

    it('teardown: true — a campaign deletes the target it deployed (its objects and the namespace it created) at the end', async () => {
      const ns = 'kube-e2e-teardown';
      const example = JSON.parse(
        JSON.stringify(parse(readFileSync(join(repoRoot(), 'examples', 'kubernetes-local.yaml'), 'utf8'))).replaceAll(
          '"boutique"',
          JSON.stringify(ns),
        ),
      ) as CampaignConfigInput & { target: Record<string, unknown> };
      const config: CampaignConfigInput = {
        ...example,
        name: 'kube-e2e-teardown',
        target: { ...example.target, kubeconfig: c.kubeconfigPath, prometheusUrl: prom.url } as never,
        phases: ['deploy'],
        teardown: true,
      };
      const workflowId = uniqueId('kube-teardown');
      const handle = await env.t.client.workflow.start('campaign', {
        taskQueue: env.taskQueue,
        workflowId,
        args: [config],
      });
      const result = (await handle.result()) as CampaignResult;
      assert.equal(result.status, 'completed', result.error);
      // The deploy created the namespace (it did not exist), so the teardown deletes it with everything in it.
      await waitUntil(
        async () => !(await kubectl('get', 'namespace', '-o', 'name')).includes(`namespace/${ns}\n`),
        60_000,
        `namespace ${ns} gone`,
      );
      const history = await handle.fetchHistory();
      const scheduled = (history.events ?? []).flatMap((e) =>
        e.activityTaskScheduledEventAttributes?.activityType?.name
          ? [e.activityTaskScheduledEventAttributes.activityType.name]
          : [],
      );
      assert.ok(scheduled.includes('deployTarget') && scheduled.includes('teardownTarget'), scheduled.join(', '));
    });

    it('deploy → chaos → collect → dataset → train → evaluate → report, and says what it could not exercise', async () => {
      const ns = 'kube-e2e-campaign';
      // examples/kubernetes-local.yaml, the config docs/kubernetes.md walks through, on this cluster and shorter
      const example = JSON.parse(
        JSON.stringify(parse(readFileSync(join(repoRoot(), 'examples', 'kubernetes-local.yaml'), 'utf8'))).replaceAll(
          '"boutique"',
          JSON.stringify(ns),
        ),
      ) as CampaignConfigInput & { target: Record<string, unknown>; chaos: Record<string, unknown> };
      assert.equal(example.traffic?.enabled, false);
      assert.equal(example.browser?.enabled, false);
      const config: CampaignConfigInput = {
        ...example,
        name: 'kube-e2e',
        target: { ...example.target, kubeconfig: c.kubeconfigPath, prometheusUrl: prom.url } as never,
        durations: { warmup: '5s', baseline: '25s', chaos: '34s' },
        // one fault every 8 s, each alone in a 2 s burst, the example's kinds in turn (a delay first, in the
        // validation head; then a pod-kill, scored): the localisation step gets an episode with a quiet gap before it
        chaos: {
          ...example.chaos,
          seed: 4,
          order: 'cycle',
          schedule: { type: 'fixed', interval: '8s' },
          episodes: { burst: '2s', quiet: '6s' },
          faults: [1, 0, 2, 3].map((i) => (example.chaos['faults'] as unknown[])[i]),
        } as never,
        dataset: { window: { size: 5 }, valChaosFraction: 0.3, labelMargin: '1s' },
        model: { epochs: 3, patience: 0, device: 'cpu' },
      };
      const t0 = Date.now();
      const workflowId = uniqueId('kube-campaign');
      try {
        await runCampaign(workflowId);
      } finally {
        // The campaign tears its target down only with `teardown: true` (tested above); this one keeps it, so
        // remove exactly this campaign's objects and namespace the way that activity would.
        await createTarget(kubernetesTargetSchema.parse(config.target), workflowId).teardown();
      }
      await waitUntil(
        async () => !(await kubectl('get', 'namespace', '-o', 'name')).includes(`namespace/${ns}\n`),
        60_000,
        `namespace ${ns} gone`,
      );

      async function runCampaign(workflowId: string): Promise<void> {
        const handle = await env.t.client.workflow.start('campaign', {
          taskQueue: env.taskQueue,
          workflowId,
          args: [config],
        });
        const result = (await handle.result()) as CampaignResult;
        const progress = await handle.query(progressQuery);
        console.log(
          `      campaign on the local cluster: ${((Date.now() - t0) / 1000).toFixed(0)} s (` +
            progress.phases
              .filter((p) => p.startMs !== undefined && p.endMs !== undefined)
              .map((p) => `${p.name} ${(((p.endMs ?? 0) - (p.startMs ?? 0)) / 1000).toFixed(1)}`)
              .join(', ') +
            ')',
        );
        assert.equal(result.status, 'completed', result.error);
        assert.ok(result.faultsInjected >= 4, `faults injected: ${result.faultsInjected}`);
        const records = readFaultLog(join(result.dataDir, 'chaos', 'faults.jsonl'));
        const kills = records.filter((r) => r.type === 'pod-kill' && r.appliedMs !== undefined);
        assert.ok(
          kills.length >= 1 && kills.some((r) => r.recoveredMs !== undefined),
          JSON.stringify(records, null, 1),
        );
        const daemonKinds = records.filter((r) => r.type !== 'pod-kill' && r.appliedMs !== undefined);
        assert.ok(daemonKinds.length >= 1, 'a kind that needs the chaos daemon was created');
        assert.ok(daemonKinds.every((r) => r.removedMs !== undefined));

        const card = JSON.parse(readFileSync(join(result.dataDir, 'dataset', 'card.json'), 'utf8')) as {
          features?: unknown;
        };
        assert.ok(card);
        const features = JSON.parse(readFileSync(join(result.dataDir, 'dataset', 'features.json'), 'utf8')) as string[];
        assert.ok(
          features.some((f) => /^svc_.*_(ready_replicas|pods_created)$/.test(f)),
          features.join(', '),
        );
        assert.ok(features.includes('cpu_util'), features.join(', '));
        assert.ok(result.headline, 'evaluated');

        // the localisation step, from the stock-cluster series alone: the pod-kill's target first, through
        // kube-state-metrics' churn or readiness of its own pods
        const loc = JSON.parse(
          readFileSync(join(result.dataDir, 'results', 'localisation.json'), 'utf8'),
        ) as LocalisationResults;
        assert.equal(loc.default.name, 'faultline');
        const killEp = loc.episodes.find((e) => e.type === 'pod-kill');
        assert.ok(killEp, `no scored pod-kill episode: ${JSON.stringify(loc.episodes.map((e) => e.type))}`);
        const fl = killEp.views.injection.rankers.faultline!;
        assert.equal(fl.truthRank, 1, JSON.stringify({ truth: killEp.truth, ...fl }));
        assert.match(fl.drivers[0] ?? '', /^svc_.+_(pods_created|ready_replicas|restarts)$/);
        assert.ok(loc.timing.byRanker.faultline);

        assert.ok(result.reportPath && existsSync(result.reportPath));
        const html = readFileSync(result.reportPath, 'utf8');
        assert.match(html, /target <code>kubernetes\/kube-e2e-campaign<\/code>/);
        assert.match(html, /cannot be observed without a container runtime/);
        assert.match(html, /Load generation:<\/strong> not run/);
        assert.match(html, /Browser probe:<\/strong> not run/);
        assert.match(html, /Default localiser: <b>faultline<\/b>/);
      }
    });
  });
});
