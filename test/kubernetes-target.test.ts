import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { KubernetesInjector, chaosMeshObject, chaosObjectName } from '../activities/chaos/chaos-mesh';
import { kindOf } from '../activities/chaos/kinds/registry';
import { removeAll } from '../activities/chaos/engine';
import { FaultLog, readFaultLog } from '../activities/chaos/fault-log';
import type { ResolvedFault } from '../activities/chaos/kinds/kind';
import { faultLogPath } from '../activities/chaos/paths';
import { purgeFaults } from '../activities/chaos/purge';
import {
  ChaosMeshNotInstalledError,
  KubeConfigMissingError,
  KubeForbiddenError,
  KubeInvalidObjectError,
  KubeUnauthorizedError,
  NamespaceNotAllowedError,
  RolloutTimeoutError,
} from '../activities/deploy/kube-errors';
import { CAMPAIGN_LABEL, parseManifest, type KubeObject } from '../activities/deploy/kube-objects';
import type { PodInfo } from '../activities/deploy/types';
import { closeAllForwards } from '../activities/deploy/kube-port-forward';
import {
  KUBE_PERMISSIONS,
  KubernetesTarget,
  defaultManifestPath,
  type KubernetesTargetOptions,
  type PodEvent,
} from '../activities/deploy/kubernetes-target';
import type { KubeOperation } from '../activities/deploy/kube-errors';
import { FAULT_TYPES, faultSpecSchema } from '../schemas/faults';
import { kubernetesTargetSchema, type KubernetesTargetConfig } from '../schemas/target';
import { KubeFaultProxy } from './helpers/kube-fault-proxy';
import { sharedCluster, type ClusterInfo } from './helpers/kube-cluster';
import { waitUntil } from './helpers/ports';

/**
 * The Kubernetes target against a REAL control plane (test/helpers/kube-cluster.ts: etcd, kube-apiserver,
 * controller-manager, scheduler, kwok as the node, the Chaos Mesh CRDs and controller manager). Failures a
 * healthy API server does not produce on demand (429, 5xx, dropped watches, 410) come from a small proxy in
 * front of it (test/helpers/kube-fault-proxy.ts). Every test works in namespaces of its own.
 */

const ROOT = resolve(__dirname, '..', '..');
const run = randomBytes(3).toString('hex');
const nsName = (what: string) => `kt-${what}-${run}`;

/** A two-replica Deployment behind a Service whose targetPort is a named container port. */
const SMALL_MANIFEST = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: server
          image: registry.invalid/web:1
          ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`;

describe('KubernetesTarget on a real Kubernetes control plane', function () {
  this.timeout(120_000);
  let cluster: ClusterInfo;
  let admin: KubeConfig;
  let objects: KubernetesObjectApi;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let dir: string;
  let smallManifest: string;
  const namespaces = new Set<string>();
  const clusterScoped: KubernetesObject[] = [];
  const proxies: KubeFaultProxy[] = [];
  const servers: http.Server[] = [];
  const logs: string[] = [];

  const config = (namespace: string, extra: Partial<KubernetesTargetConfig> = {}): KubernetesTargetConfig =>
    kubernetesTargetSchema.parse({
      type: 'kubernetes',
      namespace,
      kubeconfig: cluster.kubeconfigPath,
      // reachable from here and not cluster DNS: used as given
      prometheusUrl: 'http://127.0.0.1:9/',
      portForward: false,
      ...extra,
    });
  const target = (cfg: KubernetesTargetConfig, campaignId: string, opts: KubernetesTargetOptions = {}) =>
    new KubernetesTarget(cfg, campaignId, { log: (m) => logs.push(m), finalizerWaitMs: 1500, ...opts });

  async function createNamespace(name: string): Promise<void> {
    namespaces.add(name);
    await core.createNamespace({ body: { metadata: { name } } });
  }
  async function applyAdmin(obj: Record<string, unknown>): Promise<void> {
    await objects.patch(obj, undefined, undefined, 'faultline-test', true, PatchStrategy.ServerSideApply);
  }
  async function getPodChaos(ns: string, name: string): Promise<KubernetesObject | undefined> {
    return (await custom
      .getNamespacedCustomObject({
        group: 'chaos-mesh.org',
        version: 'v1alpha1',
        namespace: ns,
        plural: 'podchaos',
        name,
      })
      .catch(() => undefined)) as KubernetesObject | undefined;
  }
  const finalizersOf = (o: KubernetesObject | undefined) =>
    (o?.metadata as { finalizers?: string[] })?.finalizers ?? [];

  /** Pauses the Chaos Mesh controller manager (SIGSTOP) for `fn`: to the API server it is simply not there. */
  async function withoutChaosController<T>(fn: () => Promise<T>): Promise<T> {
    const pid = cluster.components.find((c) => c.name === 'chaos-controller-manager')?.pid;
    assert.ok(pid, 'the shared cluster runs the Chaos Mesh controller manager');
    process.kill(pid, 'SIGSTOP');
    try {
      return await fn();
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  }

  /**
   * The slow part of several tests — a deploy waits for kwok's pods to start like real containers (3-6 s) — begun
   * together in `before` and awaited by each test, so the waits overlap. Each runs once; a failure surfaces in
   * its test.
   */
  const stages: (() => Promise<unknown>)[] = [];
  function stage<T>(fn: () => Promise<T>): () => Promise<T> {
    let p: Promise<T> | undefined;
    const get = () => (p ??= fn());
    stages.push(() => get().catch(() => undefined));
    return get;
  }

  before(async function () {
    this.timeout(180_000);
    cluster = await sharedCluster();
    admin = new KubeConfig();
    admin.loadFromFile(cluster.kubeconfigPath);
    objects = KubernetesObjectApi.makeApiClient(admin);
    core = admin.makeApiClient(CoreV1Api);
    custom = admin.makeApiClient(CustomObjectsApi);
    dir = mkdtempSync(join(tmpdir(), 'faultline-k8s-'));
    smallManifest = join(dir, 'small.yaml');
    writeFileSync(smallManifest, SMALL_MANIFEST);
    for (const start of stages) void start();
  });
  after(async () => {
    await closeAllForwards();
    for (const p of proxies) await p.close();
    for (const srv of servers) srv.close();
    for (const ns of namespaces) await core.deleteNamespace({ name: ns }).catch(() => undefined);
    for (const o of clusterScoped) await objects.delete(o).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const boutique = stage(async () => {
    const ns = nsName('boutique');
    const campaignId = `campaign-deploy-${run}`;
    await createNamespace(ns);
    // Someone else's things in the same namespace: teardown must leave them alone.
    await applyAdmin({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'keep-me', namespace: ns, labels: { app: 'keep-me' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'keep-me' } },
        template: {
          metadata: { labels: { app: 'keep-me' } },
          spec: { containers: [{ name: 'c', image: 'x.invalid/c:1' }] },
        },
      },
    });
    await applyAdmin({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'keep-me', namespace: ns },
      data: { a: 'b' },
    });
    await applyAdmin({
      apiVersion: 'chaos-mesh.org/v1alpha1',
      kind: 'PodChaos',
      metadata: { name: 'other-campaign-fault', namespace: ns, labels: { [CAMPAIGN_LABEL]: 'another-campaign' } },
      spec: { action: 'pod-kill', mode: 'one', selector: { labelSelectors: { app: 'nothing-here' } } },
    });

    const t = target(config(ns), campaignId);
    const started = Date.now();
    const endpoints = await t.deploy();
    return { ns, campaignId, t, endpoints, deployMs: Date.now() - started };
  });

  it('deploys the upstream Online Boutique manifest by server-side apply, waits for every rollout, and tears down exactly its own objects', async () => {
    const { ns, campaignId, t, endpoints, deployMs } = await boutique();
    assert.deepEqual(endpoints, {
      kind: 'kubernetes',
      namespace: ns,
      frontendUrl: `http://frontend.${ns}.svc.cluster.local`,
      prometheusUrl: 'http://127.0.0.1:9/',
    });
    assert.ok(
      logs.some((l) => l.includes(`frontend.${ns}.svc.cluster.local`) && l.includes('target.portForward is false')),
      'says the frontend is used as given',
    );

    // Every manifest object but the loadgenerator, applied by server-side apply with faultline as field manager.
    const manifest = parseManifest(readFileSync(defaultManifestPath(), 'utf8'), 'manifest');
    assert.equal(manifest.length, 35);
    const applied = manifest.filter((m) => m.metadata.name !== 'loadgenerator');
    assert.equal(applied.length, 33, 'the loadgenerator Deployment and ServiceAccount stay out');
    const deployments = (await objects.list('apps/v1', 'Deployment', ns)).items as (KubernetesObject & {
      spec: { replicas: number };
      status?: { availableReplicas?: number; updatedReplicas?: number };
    })[];
    const ours = deployments.filter((d) => d.metadata?.labels?.[CAMPAIGN_LABEL] === campaignId);
    assert.deepEqual(
      ours.map((d) => d.metadata?.name).sort(),
      applied
        .filter((m) => m.kind === 'Deployment')
        .map((m) => m.metadata.name)
        .sort(),
    );
    for (const d of ours) {
      assert.equal(d.status?.availableReplicas, d.spec.replicas, `${d.metadata?.name} rolled out`);
      const managers = (d.metadata?.managedFields ?? []).filter((f) => f.manager === 'faultline');
      assert.ok(
        managers.some((f) => f.operation === 'Apply'),
        `${d.metadata?.name} applied server-side by faultline`,
      );
    }
    const services = (await objects.list('v1', 'Service', ns)).items;
    assert.equal(services.filter((s) => s.metadata?.labels?.[CAMPAIGN_LABEL] === campaignId).length, 12);

    const pods = await t.listPods({});
    const ourPods = pods.filter((p) => p.labels[CAMPAIGN_LABEL] === campaignId);
    assert.equal(ourPods.length, 11, 'one pod per Deployment, no loadgenerator');
    assert.ok(ourPods.every((p) => p.phase === 'Running' && p.ready && p.namespace === ns));
    assert.ok(!pods.some((p) => p.labels.app === 'loadgenerator'));
    const cart = (await t.listPods({ app: 'cartservice' }))[0];
    assert.ok(cart?.startedAtMs && cart.startedAtMs <= Date.now());

    // A Chaos Mesh object of this campaign goes with the teardown too (first, so faults end before their pods).
    const fault = resolvedFault('pod-kill', ns, campaignId, 'f1', [cart.name]);
    const created = await t.createCustomObject(chaosMeshObject(fault));
    assert.equal(created.metadata.labels?.[CAMPAIGN_LABEL], campaignId);
    // A retried create finds its object instead of failing or adding another.
    assert.equal((await t.createCustomObject(chaosMeshObject(fault))).metadata.uid, created.metadata.uid);
    // Someone else's PodChaos is refused, by name too.
    await assert.rejects(t.deleteCustomObject('PodChaos/other-campaign-fault'), /does not belong to campaign/);

    const deleted = await t.deleteCampaignObjects();
    const expected = [
      ...applied.map((m) => `${m.kind}/${m.metadata.name}`),
      `PodChaos/${created.metadata.name}`,
    ].sort();
    assert.deepEqual(deleted.map((r) => `${r.kind}/${r.name}`).sort(), expected);
    assert.equal(deleted[0]?.kind, 'PodChaos');
    // What is left is exactly what was there before; the namespace existed, so it stays.
    assert.ok(await core.readNamespace({ name: ns }));
    const left = async (apiVersion: string, kind: string) =>
      (await objects.list(apiVersion, kind, ns)).items
        .filter((o) => !o.metadata?.deletionTimestamp)
        .map((o) => o.metadata?.name);
    assert.deepEqual(await left('apps/v1', 'Deployment'), ['keep-me']);
    assert.deepEqual(await left('v1', 'ConfigMap'), ['keep-me', 'kube-root-ca.crt'].sort());
    assert.deepEqual(await left('chaos-mesh.org/v1alpha1', 'PodChaos'), ['other-campaign-fault']);
    assert.deepEqual(await left('v1', 'Service'), []);
    assert.deepEqual(
      (await left('v1', 'ServiceAccount')).sort(),
      ['default'],
      'only the namespace default account is left',
    );
    // The campaign's pods go with their Deployments (garbage collector, background propagation).
    await waitUntil(
      async () => (await t.listPods({ [CAMPAIGN_LABEL]: campaignId })).length === 0,
      20_000,
      'campaign pods gone',
    );
    // Idempotent.
    assert.deepEqual(await t.deleteCampaignObjects(), []);
    console.log(`      (deploy of 33 objects + rollouts: ${deployMs} ms)`);
  });

  const fresh = stage(async () => {
    const ns = nsName('fresh');
    namespaces.add(ns);
    const t = target(
      config(ns, { manifest: smallManifest, requireChaosMesh: false }),
      'campaign with spaces/and a very long id that cannot be a label value as is 1234567890',
    );
    await t.deploy();
    return { ns, t };
  });

  it('creates the namespace when missing (labelled) and deletes it on teardown, also when the manifest file is gone', async () => {
    const { ns, t } = await fresh();
    const created = await core.readNamespace({ name: ns });
    assert.equal(created.metadata?.labels?.[CAMPAIGN_LABEL], t.campaignLabel);
    assert.ok(t.campaignLabel.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(t.campaignLabel));
    assert.equal((await t.listPods({ app: 'web' })).filter((p) => p.ready).length, 2);
    // By teardown time the manifest file is gone: the default kinds are still found by label.
    const gone = target(config(ns, { manifest: join(dir, 'deleted.yaml') }), t.campaignId);
    const deleted = await gone.deleteCampaignObjects();
    assert.deepEqual(
      deleted.map((r) => `${r.kind}/${r.name}`),
      ['Deployment/web', 'Service/web', `Namespace/${ns}`],
    );
    const after = await core.readNamespace({ name: ns }).catch(() => undefined);
    assert.ok(!after || after.metadata?.deletionTimestamp, 'namespace deleted');
  });

  it("creates every Chaos Mesh object faultline makes as the real CRDs accept it, and shows the API server's field message for a malformed one", async () => {
    const ns = nsName('crd');
    await createNamespace(ns);
    const campaignId = `campaign-crd-${run}`;
    const t = target(config(ns), campaignId);
    const kinds = new Set<string>();
    for (const type of FAULT_TYPES) {
      const f = resolvedFault(
        type,
        ns,
        campaignId,
        `f-${type}`,
        ['cartservice-0'],
        faultSpecSchema.parse({ type, params: kindOf(type).example ?? {} }).params,
      );
      const obj = chaosMeshObject(f);
      kinds.add(obj.kind);
      // server-side dry run: the API server validates against the CRD's schema and stores nothing
      const out = await t.createCustomObject(obj, undefined, { dryRun: true });
      assert.equal(out.kind, obj.kind, type);
      assert.deepEqual(out.spec, { ...obj.spec, ...(out.spec ?? {}) }, `${type}: stored as sent (plus defaults)`);
    }
    assert.deepEqual([...kinds].sort(), ['HTTPChaos', 'NetworkChaos', 'PodChaos', 'StressChaos', 'Workflow']);
    // One of each created and deleted for real.
    for (const type of [
      'pod-failure',
      'network-delay',
      'cpu-stress',
      'http-abort',
      'network-bandwidth',
      'dependency-failure',
    ] as const) {
      const params = faultSpecSchema.parse({ type, params: kindOf(type).example ?? {} }).params;
      const f = resolvedFault(type, ns, campaignId, `r-${type}`, ['nobody'], params);
      const obj = chaosMeshObject(f);
      await t.createCustomObject(obj);
      assert.equal((await t.removeCustomObject(obj.kind, obj.metadata.name ?? '')).deleted, true);
    }
    assert.deepEqual(await t.listCustomObjects('chaos-mesh.org', 'v1alpha1', 'podchaos', t.campaignSelector), []);

    const bad = chaosMeshObject(resolvedFault('pod-kill', ns, campaignId, 'f-bad', ['x']));
    (bad.spec as Record<string, unknown>).action = 'pod-delete';
    (bad.spec as Record<string, unknown>).mode = 'some';
    await assert.rejects(
      t.createCustomObject(bad),
      (e: Error) =>
        e instanceof KubeInvalidObjectError &&
        e.name === 'KubeInvalidObject' &&
        /create podchaos\.chaos-mesh\.org "fl-f-bad-\w+" in namespace "kt-crd-/.test(e.message) &&
        /spec\.action: Unsupported value: "pod-delete"/.test(e.message) &&
        /spec\.mode: Unsupported value: "some"/.test(e.message),
    );
    const badDelay = chaosMeshObject(resolvedFault('network-delay', ns, campaignId, 'f-bad2', ['x']));
    (badDelay.spec as Record<string, unknown>).direction = 'sideways';
    await assert.rejects(t.createCustomObject(badDelay), /spec\.direction: Unsupported value: "sideways"/);
    // the CRD requires tbf's three fields: a bandwidth without its buffer is refused, naming it
    const badBandwidth = chaosMeshObject(resolvedFault('network-bandwidth', ns, campaignId, 'f-bad3', ['x']));
    delete ((badBandwidth.spec as Record<string, unknown>).bandwidth as Record<string, unknown>).buffer;
    await assert.rejects(t.createCustomObject(badBandwidth), /spec\.bandwidth\.buffer: Required value/);
  });

  it("memory-leak's Workflow: the Chaos Mesh controller runs its StressChaos steps, and the campaign sweep removes it and (through ownerReferences) its nodes and steps", async () => {
    const ns = nsName('wf');
    await createNamespace(ns);
    const campaignId = `campaign-wf-${run}`;
    const t = target(config(ns), campaignId);
    const params = faultSpecSchema.parse({ type: 'memory-leak', params: { size: '64MB', steps: 2 } }).params;
    const f = { ...resolvedFault('memory-leak', ns, campaignId, 'f-leak', ['cartservice-0'], params) };
    f.endMs = f.plannedMs + 30_000;
    const injector = new KubernetesInjector(t);
    await injector.apply(f);
    await injector.apply(f); // a retried activity: the Workflow is found, not created twice
    assert.equal(await injector.isApplied(f), true);
    const name = chaosObjectName(campaignId, 'f-leak');
    const list = async (plural: string) =>
      (
        (await custom.listNamespacedCustomObject({
          group: 'chaos-mesh.org',
          version: 'v1alpha1',
          namespace: ns,
          plural,
        })) as {
          items: KubernetesObject[];
        }
      ).items;
    // the controller made the Serial node and the first step's StressChaos, 32MB (half of 64MB), owned by its node
    const step = (await waitUntil(
      async () => (await list('stresschaos'))[0],
      30_000,
      "the Workflow's first StressChaos",
    )) as KubernetesObject & { spec: { stressors: { memory: { size: string } } } };
    assert.equal(step.spec.stressors.memory.size, `${32 * 1024}KiB`);
    assert.equal(step.metadata?.ownerReferences?.[0]?.kind, 'WorkflowNode');
    assert.equal(
      step.metadata?.labels?.[CAMPAIGN_LABEL],
      undefined,
      "the controller's children carry its labels, not ours",
    );
    const nodes = await list('workflownodes');
    assert.ok(
      nodes.some((x) => x.metadata?.labels?.['chaos-mesh.org/workflow'] === name),
      'nodes of our Workflow',
    );
    assert.equal(await injector.recovered(f, Date.now()), false, 'the Workflow is still there');
    // the campaign sweep finds the Workflow by the campaign label; the garbage collector takes its children
    assert.equal(await injector.sweep(campaignId), 1);
    assert.deepEqual(await list('workflows'), []);
    assert.equal(await injector.recovered(f, Date.now()), true);
    await waitUntil(
      async () => (await list('workflownodes')).length === 0 && (await list('stresschaos')).length === 0,
      30_000,
      "the Workflow's nodes and StressChaos steps gone with it",
    );
  });

  const rbac = stage(async () => {
    const targetNs = nsName('rbac');
    const saNs = nsName('fl');
    const otherNs = nsName('other');
    for (const n of [saNs, otherNs]) await createNamespace(n);
    namespaces.add(targetNs);
    // infra/k8s/rbac as kustomize would apply it, with this run's namespaces and cluster-scoped names.
    const rbacDir = join(ROOT, 'infra', 'k8s', 'rbac');
    const rbacObjects = [
      'target-namespace.yaml',
      'service-accounts.yaml',
      'chaos-controller-role.yaml',
      'namespace-role.yaml',
    ]
      .flatMap((f) =>
        parseAllDocuments(readFileSync(join(rbacDir, f), 'utf8')).map(
          (d) => d.toJS() as Record<string, unknown> | null,
        ),
      )
      .filter((o): o is Record<string, unknown> => o !== null);
    const renamed = JSON.parse(
      JSON.stringify(rbacObjects)
        .replace(/"namespace":"boutique"/g, `"namespace":"${targetNs}"`)
        .replace(/"name":"boutique"/g, `"name":"${targetNs}"`)
        .replace(/"namespace":"faultline"/g, `"namespace":"${saNs}"`)
        .replace(/"name":"faultline-target-namespaces"/g, `"name":"faultline-target-namespaces-${run}"`),
    ) as Record<string, unknown>[];
    for (const o of renamed) await applyAdmin(o);
    clusterScoped.push(
      ...(renamed.filter((x) => x.kind === 'ClusterRole' || x.kind === 'ClusterRoleBinding') as KubernetesObject[]),
    );
    const role = renamed.find((o) => o.kind === 'Role') as {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    const token = (
      await core.createNamespacedServiceAccountToken({
        name: 'faultline-worker',
        namespace: saNs,
        body: { spec: { audiences: [], expirationSeconds: 600 } },
      })
    ).status?.token;
    assert.ok(token);
    const saKubeconfig = join(dir, 'faultline-worker.kubeconfig');
    writeFileSync(
      saKubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: c, cluster: {server: "${cluster.server}", certificate-authority: "${cluster.caPath}"}}]`,
        `users: [{name: faultline-worker, user: {token: "${token}"}}]`,
        'contexts: [{name: c, context: {cluster: c, user: faultline-worker}}]',
        'current-context: c',
        '',
      ].join('\n'),
    );
    const used = new Set<string>();
    const record = (o: KubeOperation) => used.add(`${o.group}/${o.resource}:${o.verb}`);
    const campaignId = `campaign-rbac-${run}`;
    const t = target(config(targetNs, { kubeconfig: saKubeconfig }), campaignId, { onOperation: record });
    // Everything a campaign does, in order: deploy (apply + rollout watch), pods, a fault, recovery, teardown.
    await t.deploy();
    return { targetNs, otherNs, role, saKubeconfig, used, campaignId, t };
  });

  it('RBAC: as the infra/k8s/rbac service account (TokenRequest) a campaign runs in its namespace, is refused elsewhere, and uses every verb the Role grants', async () => {
    const { targetNs, otherNs, role, saKubeconfig, used, campaignId, t } = await rbac();
    const pods = await t.listPods({ app: 'cartservice' });
    assert.equal(pods.length, 1);
    const events: PodEvent[] = [];
    const watch = await t.watchPods({ app: 'cartservice' }, (e) => events.push(e));
    const fault = resolvedFault('pod-kill', targetNs, campaignId, 'f1', [pods[0]?.name ?? '']);
    const injector = new KubernetesInjector(t);
    await injector.apply(fault);
    await injector.apply(fault); // a retried activity: 409 → get → it is ours
    // The real controller kills the pod; the watch sees it go and its replacement come.
    await waitUntil(
      () =>
        events.some((e) => e.type === 'deleted' && e.pod.name === pods[0]?.name) &&
        events.some((e) => e.type === 'added' && e.pod.name !== pods[0]?.name),
      30_000,
      'pod replaced',
    );
    await waitUntil(() => injector.isApplied(fault), 10_000, 'the PodChaos reports the kill');
    watch.stop();
    await watch.done;
    // The controller disappears before the cleanup: teardown still finishes, removing the finalizer by patch.
    const name = chaosObjectName(campaignId, 'f1');
    await waitUntil(async () => finalizersOf(await getPodChaos(targetNs, name)).length > 0, 15_000, 'finalizer set');
    const deleted = await withoutChaosController(() => t.deleteCampaignObjects());
    const chaos = deleted.find((d) => d.kind === 'PodChaos');
    // The controller was stopped before the delete: it never marked the object to stop, and the note says so.
    assert.match(
      chaos?.note ?? '',
      /kept its finalizer\(s\) chaos-mesh\/records for [\d.]+ s after the delete: the Chaos Mesh controller did not act on the delete .*not running/,
    );
    assert.equal(await getPodChaos(targetNs, name), undefined);
    assert.ok(deleted.some((d) => d.kind === 'Deployment') && !deleted.some((d) => d.kind === 'Namespace'));

    // No verb of the Role goes unused (and nothing outside the Role + ClusterRole was needed).
    const granted = new Set(
      role.rules.flatMap((r) =>
        r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`))),
      ),
    );
    assert.deepEqual([...granted].filter((g) => !used.has(g) && !g.includes('chaos')).sort(), []);
    // The four chaos kinds share one rule; this campaign used PodChaos for each verb.
    assert.deepEqual(
      [...granted].filter((g) => g.startsWith('chaos-mesh.org/podchaos:') && !used.has(g)),
      [],
    );
    const clusterGranted = KUBE_PERMISSIONS.cluster.flatMap((r) => r.verbs.map((v) => `${r.group}/${r.resource}:${v}`));
    assert.deepEqual([...used].filter((u) => !granted.has(u) && !clusterGranted.includes(u)).sort(), []);

    // Outside its namespace: refused with the verb, resource, namespace and the fix.
    const elsewhere = target(config(otherNs, { kubeconfig: saKubeconfig }), `campaign-rbac-other-${run}`);
    const err = await elsewhere.deploy().then(
      () => assert.fail('deploy should be forbidden'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof KubeForbiddenError, String(err));
    assert.equal(err.name, 'KubeForbidden');
    assert.match(err.message, new RegExp(`permission to patch \\w+(\\.apps)? "[\\w-]+" in namespace "${otherNs}"`));
    assert.match(err.message, /RBAC verb "patch" on resource "\w+"/);
    assert.match(err.message, /infra\/k8s\/rbac/);
    assert.match(
      err.message,
      /system:serviceaccount:kt-fl-\w+:faultline-worker/,
      "the API server's own words are kept",
    );
    await assert.rejects(
      elsewhere.listPods({ app: 'frontend' }),
      (e: Error) =>
        e instanceof KubeForbiddenError && new RegExp(`list pods in namespace "${otherNs}"`).test(e.message),
    );
    await assert.rejects(
      elsewhere.createCustomObject(chaosMeshObject(resolvedFault('pod-kill', otherNs, 'c', 'f9', ['x']))),
      (e: Error) => e instanceof KubeForbiddenError && /create podchaos\.chaos-mesh\.org "fl-f9-\w+"/.test(e.message),
    );
  });

  const retrying = stage(async () => {
    const ns = nsName('retry');
    namespaces.add(ns);
    const proxy = await KubeFaultProxy.start(admin);
    proxies.push(proxy);
    const viaProxy = proxy.writeKubeconfig(dir);
    const t = target(
      config(ns, { kubeconfig: viaProxy, manifest: smallManifest, requireChaosMesh: false }),
      `campaign-retry-${run}`,
      { retry: { initialDelayMs: 5, maxDelayMs: 20, maxAttempts: 4 } },
    );
    await t.deploy();
    return { ns, proxy, viaProxy, t };
  });

  it('retries 429 and 5xx within bounds and then names what failed; resumes a dropped watch; re-lists after 410 Gone', async () => {
    const { ns, proxy, viaProxy, t } = await retrying();
    const podsPath = `/api/v1/namespaces/${ns}/pods`;
    const listPods = (r: { method: string; path: string; query: Record<string, string> }) =>
      r.method === 'GET' && r.path === podsPath && r.query.watch !== 'true';

    let n = proxy.requests.length;
    proxy.failNext(1, 429, listPods, 0);
    proxy.failNext(2, 503, listPods);
    assert.equal((await t.listPods({ app: 'web' })).length, 2);
    assert.deepEqual(
      proxy.requests.slice(n).map((r) => r.status),
      [429, 503, 503, 200],
    );
    n = proxy.requests.length;
    proxy.resetNext(2, listPods);
    assert.equal((await t.listPods({ app: 'web' })).length, 2, 'reset connections are retried');
    assert.deepEqual(
      proxy.requests.slice(n).map((r) => r.injected ?? r.status),
      ['reset', 'reset', 200],
    );
    proxy.failNext(4, 500, listPods);
    await assert.rejects(
      t.listPods({ app: 'web' }),
      (e: Error) =>
        /list pods in namespace "kt-retry-\w+" failed with 500/.test(e.message) &&
        /gave up after 4 attempts/.test(e.message),
    );
    proxy.failNext(1, 403, listPods);
    n = proxy.requests.length;
    await assert.rejects(t.listPods({ app: 'web' }), KubeForbiddenError);
    assert.equal(proxy.requests.length - n, 1, '403 is not retried');

    // A watch whose connection drops is resumed from the last resourceVersion it saw, without a re-list.
    const events: PodEvent[] = [];
    const watch = await t.watchPods({ app: 'web' }, (e) => events.push(e));
    const isWatch = (r: { path: string; query: Record<string, string> }) =>
      r.path === podsPath && r.query.watch === 'true';
    await waitUntil(() => proxy.openWatches(isWatch) === 1, 5000, 'watch open');
    const listsBefore = proxy.requests.filter(listPods).length;
    const watchesBefore = proxy.requests.filter(isWatch).length;
    assert.equal(proxy.dropWatches(isWatch), 1);
    await waitUntil(() => proxy.openWatches(isWatch) === 1, 5000, 'watch resumed');
    const resumed = proxy.requests.filter(isWatch).at(-1);
    assert.equal(proxy.requests.filter(isWatch).length, watchesBefore + 1);
    assert.ok(resumed?.query.resourceVersion, 'resumed from a resourceVersion');
    assert.equal(proxy.requests.filter(listPods).length, listsBefore, 'no re-list for a dropped connection');
    // ... and still sees what happens: a pod deleted and replaced.
    const victim = watch.pods()[0]?.name ?? '';
    await core.deleteNamespacedPod({ name: victim, namespace: ns, gracePeriodSeconds: 0 });
    await waitUntil(() => events.some((e) => e.type === 'deleted' && e.pod.name === victim), 10_000, 'delete seen');
    await waitUntil(() => events.some((e) => e.type === 'added' && e.pod.name !== victim), 20_000, 'replacement seen');

    // 410 Gone on the resumed watch: the watch re-lists, then watches on.
    proxy.goneNextWatch(isWatch);
    proxy.dropWatches(isWatch);
    await waitUntil(() => proxy.requests.filter(listPods).length === listsBefore + 1, 5000, 're-list after 410');
    assert.ok(proxy.requests.some((r) => r.injected === 'gone'));
    await waitUntil(() => proxy.openWatches(isWatch) === 1, 5000, 'watching again');
    const seen = events.length;
    const victim2 = watch.pods().find((p) => p.name !== victim)?.name ?? '';
    await core.deleteNamespacedPod({ name: victim2, namespace: ns, gracePeriodSeconds: 0 });
    await waitUntil(
      () => events.slice(seen).some((e) => e.type === 'deleted' && e.pod.name === victim2),
      10_000,
      'delete after re-list',
    );
    watch.stop();
    await watch.done;

    // A cluster without the Chaos Mesh group (answered 404 here) says how to install it.
    proxy.failNext(3, 404, (r) => r.path.startsWith('/apis/chaos-mesh.org'));
    const noChaos = target(config(ns, { kubeconfig: viaProxy, manifest: smallManifest }), `campaign-retry-${run}`);
    await assert.rejects(
      noChaos.deploy(),
      (e: Error) => e instanceof ChaosMeshNotInstalledError && /helm install chaos-mesh/.test(e.message),
    );
    await t.deleteCampaignObjects();
  });

  const stuck = stage(async () => {
    const ns = nsName('stuck');
    const manifest = join(dir, 'stuck.yaml');
    // no node has this label: the pod stays Pending and the Deployment never becomes available
    writeFileSync(
      manifest,
      SMALL_MANIFEST.replace('containers:', 'nodeSelector: {faultline.io/no-such-node: "true"}\n      containers:'),
    );
    namespaces.add(ns);
    const t = target(config(ns, { manifest, requireChaosMesh: false, rolloutTimeout: '2s' }), `campaign-stuck-${run}`);
    return {
      t,
      failure: await t.deploy().then(
        () => undefined,
        (e: unknown) => e,
      ),
    };
  });

  it('times out a rollout naming the Deployment that is not ready and why', async () => {
    const { t, failure } = await stuck();
    assert.ok(
      failure instanceof RolloutTimeoutError &&
        /web: 0 of 2 updated replicas available|web: Available condition/.test(failure.message),
      String(failure),
    );
    await t.deleteCampaignObjects();
  });

  const forwarded = stage(async () => {
    const ns = nsName('pf');
    namespaces.add(ns);
    // The "pods" run nothing (kwok): kwok's port-forward simulation sends their port to a local server.
    const server = http.createServer((req, res) => {
      res.end(`hello from the pod, ${req.url ?? ''}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    servers.push(server);
    const localPort = (server.address() as AddressInfo).port;
    const rule = {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'ClusterPortForward',
      metadata: { name: `faultline-test-${ns}` },
      spec: {
        selector: { matchNamespaces: [ns] },
        forwards: [{ ports: [8080], target: { address: '127.0.0.1', port: localPort } }],
      },
    };
    await applyAdmin(rule);
    clusterScoped.push(rule);
    const campaignId = `campaign-pf-${run}`;
    const t = target(
      config(ns, {
        manifest: smallManifest,
        requireChaosMesh: false,
        portForward: true,
        frontendUrl: `http://web.${ns}.svc.cluster.local`,
        prometheusUrl: `http://web.${ns}.svc:80/prometheus/`,
      }),
      campaignId,
    );
    const endpoints = await t.deploy();
    return { ns, campaignId, t, endpoints, localPort };
  });

  it('port-forwards to a cluster-internal frontendUrl/prometheusUrl through the API server, says so, and can be turned off', async () => {
    const { ns, campaignId, t, endpoints, localPort } = await forwarded();
    assert.match(endpoints.frontendUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(endpoints.prometheusUrl, /^http:\/\/127\.0\.0\.1:\d+\/prometheus$/);
    assert.equal(
      new URL(endpoints.prometheusUrl).port,
      new URL(endpoints.frontendUrl).port,
      'one forward per Service port',
    );
    const said = logs.filter((l) => l.includes('port-forwarding'));
    assert.ok(
      said.some(
        (l) =>
          l.includes(`target.frontendUrl http://web.${ns}.svc.cluster.local is cluster-internal`) &&
          /pod web-[\w-]+:8080/.test(l),
      ),
      said.join('\n'),
    );
    assert.ok(
      said.some((l) => l.includes('target.portForward: false')),
      'says how to turn it off',
    );
    const get = async (url: string) => (await fetch(url)).text();
    assert.equal(await get(`${endpoints.frontendUrl}/cart`), 'hello from the pod, /cart');
    assert.equal(
      await get(`${endpoints.prometheusUrl}/api/v1/query?query=up`),
      'hello from the pod, /prometheus/api/v1/query?query=up',
    );
    // The pod behind it is killed: the next connections go to the other ready pod of the Service.
    const behind = /pod (web-[\w-]+):8080/.exec(said.find((l) => l.includes(`web.${ns}.svc.cluster.local`)) ?? '')?.[1];
    assert.ok(behind);
    await core.deleteNamespacedPod({ name: behind, namespace: ns, gracePeriodSeconds: 0 });
    await waitUntil(async () => !(await t.listPods({ app: 'web' })).some((p) => p.name === behind), 10_000, 'pod gone');
    await waitUntil(
      async () => (await get(`${endpoints.frontendUrl}/again`).catch(() => '')) === 'hello from the pod, /again',
      10_000,
      'forward to the other pod',
    );

    // Turned off: the URLs are used as given, and the log says why.
    const off = target(
      config(ns, { manifest: smallManifest, requireChaosMesh: false, portForward: false }),
      campaignId,
    );
    assert.equal((await off.endpoints()).frontendUrl, `http://frontend.${ns}.svc.cluster.local`);
    // Reachable URLs are never forwarded.
    const direct = target(config(ns, { portForward: true, frontendUrl: `http://127.0.0.1:${localPort}` }), campaignId);
    assert.equal((await direct.endpoints()).frontendUrl, `http://127.0.0.1:${localPort}`);
    // A bad value is refused naming the field.
    const bad = kubernetesTargetSchema.safeParse({
      type: 'kubernetes',
      namespace: 'b',
      prometheusUrl: 'http://p:9090',
      portForward: 'yes',
    });
    assert.ok(
      !bad.success &&
        bad.error.issues.some(
          (i) => i.path.join('.') === 'portForward' && /target\.portForward must be true or false/.test(i.message),
        ),
    );
    await t.teardown();
    assert.ok(
      logs.some((l) => l.startsWith(`teardown: deleted 3 object(s) of campaign ${campaignId}`)),
      'Deployment, Service and the namespace it created',
    );
  });

  const brokenForward = stage(async () => {
    const ns = nsName('pfbad');
    namespaces.add(ns);
    // kwok forwards the pods' port to a local port nothing listens on: the forward opens, every stream fails.
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const rule = {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'ClusterPortForward',
      metadata: { name: `faultline-test-${ns}` },
      spec: {
        selector: { matchNamespaces: [ns] },
        forwards: [{ ports: [8080], target: { address: '127.0.0.1', port: closedPort } }],
      },
    };
    await applyAdmin(rule);
    clusterScoped.push(rule);
    const campaignId = `campaign-pfbad-${run}`;
    const mine: string[] = [];
    const t = new KubernetesTarget(
      config(ns, {
        manifest: smallManifest,
        requireChaosMesh: false,
        portForward: true,
        frontendUrl: `http://web.${ns}.svc.cluster.local`,
      }),
      campaignId,
      { log: (m) => mine.push(m) },
    );
    const endpoints = await t.deploy();
    return { ns, t, endpoints, logs: mine };
  });

  it('says a port-forward works only after a request through it answered, and names the failure when none does', async () => {
    const { ns, t, endpoints, logs: said } = await brokenForward();
    // The frontend is optional (traffic off): the URL stays as given, with a warning that names why.
    assert.equal(endpoints.frontendUrl, `http://web.${ns}.svc.cluster.local`);
    assert.ok(!said.some((l) => l.includes('port-forwarding')), said.join('\n'));
    assert.ok(
      said.some(
        (l) =>
          l.startsWith(`warning: target.frontendUrl http://web.${ns}.svc.cluster.local is cluster-internal`) &&
          /automatic port-forward to it failed: the forward http:\/\/127\.0\.0\.1:\d+ → Service \S+\/web:80 \(pod web-[\w-]+:8080\) was set up, but a request through it failed: GET /.test(
            l,
          ),
      ),
      said.join('\n'),
    );
    // The working forward of the other test logs its check.
    const ok = await forwarded();
    assert.ok(
      logs.some((l) => l.includes(`web.${ok.ns}.svc.cluster.local`) && /checked \(HTTP 200 through it\)/.test(l)),
      logs.filter((l) => l.includes('port-forward')).join('\n'),
    );
    await t.teardown();
  });

  const daemonless = stage(async () => {
    const ns = nsName('nodaemon');
    namespaces.add(ns);
    const campaignId = `campaign-nodaemon-${run}`;
    const t = target(config(ns, { manifest: smallManifest }), campaignId);
    await t.deploy();
    return { ns, t, campaignId };
  });

  it('tells a running Chaos Mesh controller that cannot recover a fault (no chaos daemon under kwok) from an absent one when it removes the finalizer', async () => {
    const { ns, t, campaignId } = await daemonless();
    const pods = await t.listPods({ app: 'web' });
    const pod = pods[0]?.name ?? '';
    assert.ok(pod, 'a web pod');
    const fault = resolvedFault(
      'network-delay',
      ns,
      campaignId,
      'f1',
      [pod],
      faultSpecSchema.parse({ type: 'network-delay' }).params,
    );
    const injector = new KubernetesInjector(t);
    await injector.apply(fault);
    const name = chaosObjectName(campaignId, 'f1');
    const getNetworkChaos = () =>
      custom
        .getNamespacedCustomObject({
          group: 'chaos-mesh.org',
          version: 'v1alpha1',
          namespace: ns,
          plural: 'networkchaos',
          name,
        })
        .catch(() => undefined) as Promise<KubernetesObject | undefined>;
    await waitUntil(async () => finalizersOf(await getNetworkChaos()).length > 0, 15_000, 'finalizer set');
    const removed = await t.removeCustomObject('NetworkChaos', name);
    assert.equal(removed.deleted, true);
    assert.match(
      removed.note ?? '',
      /NetworkChaos \S+ kept its finalizer\(s\) chaos-mesh\/records for [\d.]+ s after the delete: the Chaos Mesh controller is running \(it marked the object to stop\) but did not recover it .*no chaos daemon on the node of its pods\?/,
    );
    assert.doesNotMatch(removed.note ?? '', /not running/);
    assert.equal(await getNetworkChaos(), undefined);
    await t.teardown();
  });

  it('removes the finalizers of its own Chaos Mesh objects when the controller is gone: campaign cleanup records it in the fault log, chaos purge in its output', async () => {
    const ns = nsName('fin');
    await createNamespace(ns);
    const home = join(dir, 'home');
    mkdirSync(home, { recursive: true });
    const savedHome = process.env.FAULTLINE_HOME;
    process.env.FAULTLINE_HOME = home;
    try {
      // Two campaigns' faults (cleanup and purge) and someone else's PodChaos, all carrying the controller's finalizer.
      const mk = async (campaignId: string, ids: string[]) => {
        const dataDir = join(home, 'campaigns', campaignId);
        const t = target(config(ns), campaignId);
        const injector = new KubernetesInjector(t);
        const log = FaultLog.open(faultLogPath(dataDir));
        log.append({ ev: 'campaign', ts: Date.now(), campaignId, targetKind: 'kubernetes', namespace: ns });
        const faults: ResolvedFault[] = [];
        for (const id of ids) {
          const f = resolvedFault('pod-failure', ns, campaignId, id, ['nobody-here']);
          log.append({
            ev: 'planned',
            ts: Date.now(),
            id,
            campaignId,
            type: f.type,
            target: { namespace: ns, app: f.app, pods: ['nobody-here'] },
            params: f.params,
            plannedMs: f.plannedMs,
            plannedEndMs: f.endMs,
          });
          await injector.apply(f);
          log.append({ ev: 'applied', ts: Date.now(), id });
          faults.push(f);
        }
        log.close();
        return { faults, t, injector, dataDir, names: ids.map((id) => chaosObjectName(campaignId, id)) };
      };
      const a = await mk(`campaign-fin-a-${run}`, ['f1', 'f2']);
      const b = await mk(`campaign-fin-b-${run}`, ['f1']);
      await applyAdmin({
        apiVersion: 'chaos-mesh.org/v1alpha1',
        kind: 'PodChaos',
        metadata: { name: 'not-ours', namespace: ns, labels: { [CAMPAIGN_LABEL]: 'someone-else' } },
        spec: { action: 'pod-failure', mode: 'all', duration: '10m', selector: { pods: { [ns]: ['nobody-here'] } } },
      });
      for (const n of [...a.names, ...b.names, 'not-ours'])
        await waitUntil(
          async () => finalizersOf(await getPodChaos(ns, n)).includes('chaos-mesh/records'),
          15_000,
          `${n}: controller's finalizer`,
        );

      await withoutChaosController(async () => {
        await custom.deleteNamespacedCustomObject({
          group: 'chaos-mesh.org',
          version: 'v1alpha1',
          namespace: ns,
          plural: 'podchaos',
          name: 'not-ours',
        });
        // Campaign A's chaos loop ends f2 at its time: the delete is issued, the loop does not wait for it.
        const loopStarted = Date.now();
        assert.equal(await a.injector.recover(a.faults[1] as ResolvedFault), undefined);
        assert.ok(Date.now() - loopStarted < 1000, 'the chaos loop is not held up by the finalizer');
        const logA = FaultLog.open(faultLogPath(a.dataDir));
        logA.append({ ev: 'removed', ts: Date.now(), id: 'f2' });
        assert.ok((await getPodChaos(ns, a.names[1] ?? ''))?.metadata?.deletionTimestamp, 'f2 is stuck terminating');
        // Campaign A's cleanup (removeAllFaults): f1 is removed, f2's stuck object is swept, and the fault log
        // says for each how.
        const res = await removeAll(new KubernetesInjector(a.t), logA, a.faults[0]?.campaignId ?? '', { watchMs: 0 });
        logA.close();
        assert.equal(res.removed, 1, JSON.stringify(res));
        const recs = readFaultLog(faultLogPath(a.dataDir));
        for (const rec of recs) {
          assert.equal(rec.status, 'removed');
          assert.ok(
            rec.notes?.some((n) =>
              /kept its finalizer\(s\) chaos-mesh\/records for [\d.]+ s after the delete: the Chaos Mesh controller did not act on the delete|was not waited for, because [\d.]+ s ago another object of this campaign kept its finalizer \(the Chaos Mesh controller did not act/.test(
                n,
              ),
            ),
            JSON.stringify(rec),
          );
        }
        for (const n of a.names) assert.equal(await getPodChaos(ns, n), undefined);

        // Campaign B's worker is gone: `faultline chaos purge` finishes too, and says what it did.
        const report = await purgeFaults({
          home,
          kubernetes: { namespace: ns, kubeconfig: cluster.kubeconfigPath },
          finalizerWaitMs: 1500,
        });
        assert.deepEqual(report.problems, []);
        const removedB = report.removed.find((r) => r.campaignId === b.faults[0]?.campaignId);
        assert.match(
          removedB?.how ?? '',
          /Chaos Mesh object deleted; the Chaos Mesh object PodChaos \S+ kept its finalizer\(s\) chaos-mesh\/records for [\d.]+ s after the delete: the Chaos Mesh controller did not act on the delete/,
        );
        assert.equal(report.finalizersRemoved.length, 1);
        assert.match(report.finalizersRemoved[0] ?? '', new RegExp(`PodChaos ${ns}/${b.names[0]}`));
        assert.ok(readFaultLog(faultLogPath(b.dataDir))[0]?.notes?.some((n) => /^purge: .*finalizer/.test(n)));
        assert.equal(await getPodChaos(ns, b.names[0] ?? ''), undefined);
        // Someone else's object is left exactly as it was: deleting, finalizer still on.
        const other = await getPodChaos(ns, 'not-ours');
        assert.ok(other?.metadata?.deletionTimestamp);
        assert.deepEqual(finalizersOf(other), ['chaos-mesh/records']);
      });
      // Back, the controller finishes the other object's delete itself.
      await waitUntil(
        async () => (await getPodChaos(ns, 'not-ours')) === undefined,
        20_000,
        'controller deletes not-ours',
      );
    } finally {
      if (savedHome === undefined) delete process.env.FAULTLINE_HOME;
      else process.env.FAULTLINE_HOME = savedHome;
    }
  });

  it('works in a pod with a real service-account token, and names the 401 of a token the server rejects', async () => {
    const ns = nsName('incluster');
    await createNamespace(ns);
    await applyAdmin({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader', namespace: ns } });
    await applyAdmin({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'reader', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
    });
    const token =
      (
        await core.createNamespacedServiceAccountToken({
          name: 'reader',
          namespace: ns,
          body: { spec: { audiences: [], expirationSeconds: 600 } },
        })
      ).status?.token ?? '';
    const mount = (root: string, tok: string) => {
      const sa = join(root, 'var', 'run', 'secrets', 'kubernetes.io', 'serviceaccount');
      mkdirSync(sa, { recursive: true });
      writeFileSync(join(sa, 'token'), tok);
      writeFileSync(join(sa, 'ca.crt'), readFileSync(cluster.caPath));
      writeFileSync(join(sa, 'namespace'), ns);
      return sa;
    };
    const empty = join(dir, 'empty-home');
    mkdirSync(empty, { recursive: true });
    const port = new URL(cluster.server).port;
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = '127.0.0.1';
    process.env.KUBERNETES_SERVICE_PORT = port;
    try {
      const cfg = kubernetesTargetSchema.parse({
        type: 'kubernetes',
        namespace: ns,
        prometheusUrl: 'http://127.0.0.1:9',
      });
      const inPod = target(cfg, 'campaign-in-pod', {
        configSource: {
          env: { KUBERNETES_SERVICE_HOST: '127.0.0.1' },
          homeDir: empty,
          serviceAccountDir: mount(join(dir, 'pod'), token),
        },
      });
      assert.equal(inPod.client.server, cluster.server);
      assert.deepEqual(await inPod.listPods({ app: 'frontend' }), []);
      const stale = target(cfg, 'campaign-stale', {
        configSource: {
          env: { KUBERNETES_SERVICE_HOST: '127.0.0.1' },
          homeDir: empty,
          serviceAccountDir: mount(join(dir, 'stale'), 'not-a-token'),
        },
      });
      await assert.rejects(
        stale.listPods({}),
        (e: Error) =>
          e instanceof KubeUnauthorizedError && /401/.test(e.message) && /list pods in namespace/.test(e.message),
      );
    } finally {
      if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
      else process.env.KUBERNETES_SERVICE_HOST = saved.host;
      if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
      else process.env.KUBERNETES_SERVICE_PORT = saved.port;
    }
  });

  it('refuses namespaces outside allowedNamespaces before any request', async () => {
    const ops: string[] = [];
    assert.throws(
      () => target(config('kube-system', { allowedNamespaces: ['boutique'] }), 'c'),
      (e: Error) =>
        e instanceof NamespaceNotAllowedError && /"kube-system"/.test(e.message) && /allowedNamespaces/.test(e.message),
    );
    const t = target(config('boutique', { allowedNamespaces: ['boutique'] }), 'campaign-guard', {
      onOperation: (o) => ops.push(o.verb),
    });
    await assert.rejects(
      t.createCustomObject({
        apiVersion: 'chaos-mesh.org/v1alpha1',
        kind: 'PodChaos',
        metadata: { name: 'escape' },
        spec: { action: 'pod-kill', mode: 'one', selector: { namespaces: ['monitoring'] } },
      }),
      (e: Error) => e instanceof NamespaceNotAllowedError && /"monitoring"/.test(e.message),
    );
    await assert.rejects(t.deleteCustomObject('PodChaos', 'x', { namespace: 'temporal' }), NamespaceNotAllowedError);
    assert.deepEqual(ops, []);
  });

  it('keeps the upstream loadgenerator out of the deploy and the fault targets unless target.loadGenerator', async () => {
    const without = target(config('boutique'), 'c');
    const withIt = target(config('boutique', { loadGenerator: true }), 'c');
    const names = (t: KubernetesTarget) => t.manifestObjects().map((o) => `${o.kind}/${o.metadata.name}`);
    assert.equal(names(withIt).length, 35);
    assert.deepEqual(
      names(withIt).filter((n) => !names(without).includes(n)),
      ['Deployment/loadgenerator', 'ServiceAccount/loadgenerator'],
    );
    const pod = (app: string): PodInfo => ({
      name: `${app}-1`,
      uid: app,
      namespace: 'boutique',
      labels: { app },
      phase: 'Running',
      ready: true,
      restarts: 0,
    });
    const client = {
      listPods: () => Promise.resolve([pod('frontend'), pod('loadgenerator')]),
      createCustomObject: (o: KubeObject) => Promise.resolve(o),
      deleteCustomObject: () => Promise.resolve(true),
      listCustomObjects: () => Promise.resolve([]),
    };
    const apps = async (inj: KubernetesInjector) => (await inj.listPods({})).map((p) => p.labels.app);
    assert.deepEqual(await apps(new KubernetesInjector(client)), ['frontend']);
    assert.deepEqual(new KubernetesInjector(client).eligibleApps('pod-kill', ['frontend', 'loadgenerator']), [
      'frontend',
    ]);
    assert.deepEqual(await apps(new KubernetesInjector(client, { loadGenerator: true })), [
      'frontend',
      'loadgenerator',
    ]);
  });

  it('explains where it looked when there is no kubeconfig', () => {
    const empty = join(dir, 'no-home');
    mkdirSync(empty, { recursive: true });
    const cfg = kubernetesTargetSchema.parse({
      type: 'kubernetes',
      namespace: 'boutique',
      prometheusUrl: 'http://p:9090',
    });
    assert.throws(
      () =>
        new KubernetesTarget(cfg, 'c', {
          configSource: { env: {}, homeDir: empty, serviceAccountDir: join(dir, 'no-sa') },
        }),
      (e: Error) =>
        e instanceof KubeConfigMissingError &&
        e.message.includes(join(empty, '.kube', 'config')) &&
        /target\.kubeconfig/.test(e.message) &&
        /\$KUBECONFIG/.test(e.message) &&
        /in-cluster/.test(e.message),
    );
    assert.throws(
      () => new KubernetesTarget(config('boutique', { kubeconfig: join(dir, 'nope.yaml') }), 'c'),
      (e: Error) => e instanceof KubeConfigMissingError && e.message.includes('nope.yaml'),
    );
    assert.throws(
      () => new KubernetesTarget(config('boutique', { context: 'prod' }), 'c'),
      (e: Error) => e instanceof KubeConfigMissingError && /context "prod"/.test(e.message),
    );
  });
});

function resolvedFault(
  type: ResolvedFault['type'],
  namespace: string,
  campaignId: string,
  id: string,
  pods: string[],
  params: Record<string, unknown> = {},
): ResolvedFault {
  const now = Date.now();
  return {
    id,
    campaignId,
    key: `${campaignId}/${id}`,
    type,
    namespace,
    app: 'cartservice',
    pods: pods.map((name) => ({
      name,
      uid: `uid-${name}`,
      namespace,
      labels: { app: 'cartservice' },
      phase: 'Running',
      ready: true,
      restarts: 0,
    })),
    params,
    plannedMs: now,
    endMs: now + 60_000,
    detail: {},
  };
}
