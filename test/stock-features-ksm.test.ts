import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { featuresSchema } from '../schemas/features';
import { stockClusterFeatures } from '../activities/metrics/features';
import {
  sharedCluster,
  startClusterPrometheus,
  type ClusterInfo,
  type RunningPrometheus,
} from './helpers/kube-cluster';
import { startTestSupervisor, type TestSupervisor } from './chaos-support';
import { waitUntil } from './helpers/ports';

const run = promisify(execFile);

/** Label names of the first `name{…}` line whose labels include `match`, from a Prometheus text exposition. */
function labelNames(text: string, name: string, match: Record<string, string>): string[] | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf('}'));
    const have: Record<string, string> = {};
    for (const m of body.matchAll(/(\w+)="([^"]*)"/g)) have[m[1] ?? ''] = m[2] ?? '';
    if (Object.entries(match).every(([k, v]) => have[k] === v)) return Object.keys(have).sort();
  }
  return undefined;
}

async function promVector(url: string, query: string): Promise<number[]> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`, {
    signal: AbortSignal.timeout(5000),
  });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data: { result: { value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`prometheus rejected ${query}: ${body.error}`);
  return body.data.result.map((r) => Number(r.value[1]));
}

/**
 * The stock-cluster set's kube-state-metrics queries (readiness, churn, restarts) against the REAL
 * kube-state-metrics 2.20 of a real control plane (kwok node), scraped by a real Prometheus; and the local
 * supervisor's imitation checked label for label against what the real one exports.
 */
describe('stock-cluster features over a real kube-state-metrics', function () {
  this.timeout(180_000);
  const ns = `stock-ksm-${process.pid}`;
  // app names of our own: the shared cluster may hold other tests' boutiques in other namespaces
  const apps = { kfcart: 2, kffront: 1 };
  let c: ClusterInfo;
  let prom: RunningPrometheus;
  const kubectl = async (...args: string[]) =>
    (await run(path.join(c.binDir, 'kubectl'), ['--kubeconfig', c.kubeconfigPath, ...args])).stdout;
  const features = stockClusterFeatures(
    featuresSchema.parse({ set: 'stock-cluster', services: Object.keys(apps), rateWindow: '3s' }),
  );
  const query = (name: string) => {
    const f = features.find((x) => x.name === name);
    assert.ok(f, name);
    return f.query;
  };
  const value = async (name: string) => (await promVector(prom.url, query(name)))[0] ?? NaN;

  before(async () => {
    c = await sharedCluster();
    prom = await startClusterPrometheus(c);
    await kubectl('create', 'namespace', ns);
    const docs = Object.entries(apps).map(([app, replicas]) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: app, namespace: ns, labels: { app } },
      spec: {
        replicas,
        selector: { matchLabels: { app } },
        template: {
          metadata: { labels: { app } },
          spec: { containers: [{ name: 'server', image: `example.invalid/${app}:v1` }] },
        },
      },
    }));
    const file = path.join(c.dir, `${ns}.yaml`);
    writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
    await kubectl('apply', '--server-side', '-f', file);
  });

  after(async () => {
    if (c) await kubectl('delete', 'namespace', ns, '--wait=false').catch(() => undefined);
    await prom?.stop();
  });

  it('reads readiness, churn and restarts of each service through kube_pod_labels, one series each', async () => {
    await waitUntil(
      async () => (await value('svc_kfcart_ready_replicas')) === 2 && (await value('svc_kffront_ready_replicas')) === 1,
      60_000,
      'both deployments available in Prometheus',
    );
    for (const f of features.filter((x) => /_(ready_replicas|pods_created|restarts)$/.test(x.name))) {
      const v = await promVector(prom.url, f.query);
      assert.equal(v.length, 1, `${f.name}: one series`);
      assert.ok(Number.isFinite(v[0]), `${f.name}: finite`);
    }
    // kwok restarts no container: the real counter reads 0, and the join finds the pods (not an empty result)
    assert.equal(await value('svc_kfcart_restarts'), 0);
    const joined = await promVector(
      prom.url,
      `count(kube_pod_container_status_restarts_total{namespace="${ns}"} * on(namespace, pod) group_left(label_app) kube_pod_labels{label_app="kfcart"})`,
    );
    assert.deepEqual(joined, [2]);

    // a pod deleted: the ReplicaSet's replacement is pod churn for kfcart only, and availability dips and returns
    await waitUntil(async () => (await value('svc_kffront_pods_created')) === 0, 30_000, 'creation window passed');
    const [victim] = (await kubectl('-n', ns, 'get', 'pods', '-l', 'app=kfcart', '-o', 'name')).trim().split('\n');
    assert.ok(victim);
    await kubectl('-n', ns, 'delete', victim, '--wait=false');
    let sawDip = false;
    await waitUntil(
      async () => {
        if ((await value('svc_kfcart_ready_replicas')) < 2) sawDip = true;
        return (await value('svc_kfcart_pods_created')) >= 1;
      },
      30_000,
      'svc_kfcart_pods_created ≥ 1',
    );
    assert.equal(await value('svc_kffront_pods_created'), 0);
    await waitUntil(
      async () => {
        const ready = await value('svc_kfcart_ready_replicas');
        if (ready < 2) sawDip = true;
        return sawDip && ready === 2;
      },
      60_000,
      'kfcart availability dipped and came back',
    );
  });

  it('has the supervisor export kube-state-metrics series with the real label sets', async () => {
    const real = await (await fetch(c.ksmUrl)).text();
    let sup: TestSupervisor | undefined;
    try {
      sup = await startTestSupervisor([{ app: 'kfcart', replicas: 1 }]);
      const ours = await (await fetch(`${sup.url}/metrics`)).text();
      const checks: [string, Record<string, string>, Record<string, string>][] = [
        ['kube_pod_created', { namespace: ns }, {}],
        ['kube_pod_status_ready', { namespace: ns, condition: 'true' }, { condition: 'true' }],
        ['kube_pod_status_phase', { namespace: ns, phase: 'Running' }, { phase: 'Running' }],
        ['kube_pod_container_status_restarts_total', { namespace: ns }, {}],
        ['kube_deployment_spec_replicas', { namespace: ns }, {}],
        ['kube_deployment_status_replicas_available', { namespace: ns }, {}],
      ];
      for (const [name, realMatch, ourMatch] of checks) {
        const want = labelNames(real, name, realMatch);
        assert.ok(want, `real kube-state-metrics exports ${name} for ${ns}`);
        assert.deepEqual(labelNames(ours, name, ourMatch), want, name);
      }
      // kube_pod_labels: the same identity labels; label_app among the label_* ones the allowlist lets through
      const want = labelNames(real, 'kube_pod_labels', { namespace: ns, label_app: 'kfcart' });
      const got = labelNames(ours, 'kube_pod_labels', { label_app: 'kfcart' });
      assert.ok(want && got);
      const identity = (l: string[]) => l.filter((x) => !x.startsWith('label_'));
      assert.deepEqual(identity(got), identity(want));
      assert.ok(want.includes('label_app') && got.includes('label_app'));
    } finally {
      await sup?.stop();
    }
  });
});
