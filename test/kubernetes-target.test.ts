import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chaosMeshObject } from '../activities/chaos/chaos-mesh';
import { loadCrdSchemas, validateChaosObject } from '../activities/chaos/crd-schema';
import {
  ChaosMeshNotInstalledError,
  KubeConfigMissingError,
  KubeForbiddenError,
  KubeUnauthorizedError,
  NamespaceNotAllowedError,
  RolloutTimeoutError,
} from '../activities/deploy/kube-errors';
import { CAMPAIGN_LABEL, parseManifest } from '../activities/deploy/kube-objects';
import { KubernetesTarget, defaultManifestPath, type PodEvent } from '../activities/deploy/kubernetes-target';
import { kubernetesTargetSchema, type KubernetesTargetConfig } from '../schemas/target';
import { FakeKubeApi } from './helpers/fake-kube-api';
import { waitUntil } from './helpers/ports';

const CRD_BUNDLE = join(__dirname, '..', '..', '..', 'shared', 'reference', 'chaos-mesh', 'crd.yaml');

describe('KubernetesTarget against a fake Kubernetes API', () => {
  let api: FakeKubeApi;
  let dir: string;
  let kubeconfig: string;

  const config = (namespace: string, extra: Partial<KubernetesTargetConfig> = {}): KubernetesTargetConfig =>
    kubernetesTargetSchema.parse({
      type: 'kubernetes',
      namespace,
      kubeconfig,
      prometheusUrl: 'http://prometheus.monitoring.svc:9090',
      ...extra,
    });

  before(async () => {
    api = await FakeKubeApi.start({ controllerStepMs: 5 });
    dir = mkdtempSync(join(tmpdir(), 'faultline-k8s-'));
    kubeconfig = api.writeKubeconfig(dir);
  });
  after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deploys, waits for rollouts, injects a PodChaos, observes the restart and tears down exactly its own objects', async () => {
    const ns = 'boutique';
    const campaignId = 'campaign-k8s-e2e-1';
    // Someone else's things in the same namespace: teardown must leave them alone.
    api.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    api.seed({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'keep-me', namespace: ns, labels: { app: 'keep-me' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'keep-me' } },
        template: { metadata: { labels: { app: 'keep-me' } }, spec: { containers: [{ name: 'c' }] } },
      },
    });
    api.seed({
      apiVersion: 'chaos-mesh.org/v1alpha1',
      kind: 'PodChaos',
      metadata: { name: 'other-campaign-fault', namespace: ns, labels: { [CAMPAIGN_LABEL]: 'another-campaign' } },
      spec: { action: 'pod-kill', mode: 'one', selector: { labelSelectors: { app: 'keep-me' } } },
    });
    const before = new Set(api.inventory());

    const target = new KubernetesTarget(config(ns), campaignId);
    api.stuck.add('frontend'); // held until the rollout wait is watching, so the watch path is exercised
    const endpoints = await target.deploy();
    assert.deepEqual(endpoints, {
      kind: 'kubernetes',
      namespace: ns,
      frontendUrl: `http://frontend.${ns}.svc.cluster.local`,
      prometheusUrl: 'http://prometheus.monitoring.svc:9090',
    });

    // Every manifest object went through server-side apply with our field manager, force, and the campaign label.
    const manifest = parseManifest(readFileSync(defaultManifestPath(), 'utf8'), 'manifest');
    assert.equal(manifest.length, 35);
    const applies = api.requests.filter((r) => r.method === 'PATCH');
    assert.equal(applies.length, manifest.length);
    for (const r of applies) {
      assert.equal(r.contentType, 'application/apply-patch+yaml');
      assert.equal(r.query.fieldManager, 'faultline');
      assert.equal(r.query.force, 'true');
      assert.equal(r.status, 201);
    }
    for (const m of manifest) {
      const plural = `${m.kind.toLowerCase()}s`;
      const stored = api.get(m.apiVersion === 'apps/v1' ? 'apps' : '', plural, ns, m.metadata.name ?? '');
      assert.ok(stored, `${m.kind}/${m.metadata.name} applied`);
      assert.equal(stored.metadata.labels?.[CAMPAIGN_LABEL], campaignId);
    }
    // The namespace existed: it is not ours, so it carries no campaign label.
    assert.equal(api.get('', 'namespaces', undefined, ns)?.metadata.labels?.[CAMPAIGN_LABEL], undefined);

    const rollout = target.waitReady(20_000);
    await waitUntil(
      () =>
        api.requests.some((r) => r.path === `/apis/apps/v1/namespaces/${ns}/deployments` && r.query.watch === 'true'),
      5000,
      'rollout watch',
    );
    api.release(ns, 'frontend');
    await rollout;
    for (const d of manifest.filter((m) => m.kind === 'Deployment')) {
      const st = api.get('apps', 'deployments', ns, d.metadata.name ?? '')?.status as { availableReplicas?: number };
      assert.equal(st.availableReplicas, 1, `${d.metadata.name} available`);
    }
    // The rollout wait listed once and then watched from the list's resourceVersion (no polling).
    const deployReqs = api.requests.filter((r) => r.path === `/apis/apps/v1/namespaces/${ns}/deployments`);
    assert.ok(
      deployReqs.some(
        (r) =>
          r.query.watch === 'true' &&
          r.query.resourceVersion &&
          r.query.labelSelector === `${CAMPAIGN_LABEL}=${campaignId}`,
      ),
    );
    assert.ok(deployReqs.filter((r) => r.query.watch !== 'true').length <= 2);

    const pods = await target.listPods({ app: 'cartservice' });
    assert.equal(pods.length, 1);
    const cart = pods[0];
    assert.ok(cart);
    assert.equal(cart.phase, 'Running');
    assert.equal(cart.ready, true);
    assert.equal(cart.restarts, 0);
    assert.equal(cart.namespace, ns);
    assert.equal(cart.labels[CAMPAIGN_LABEL], campaignId);

    const events: PodEvent[] = [];
    const watch = await target.watchPods({ app: 'cartservice' }, (ev) => events.push(ev));
    assert.deepEqual(
      watch.pods().map((p) => p.name),
      [cart.name],
    );

    // The chaos developer's builder makes the PodChaos; it must pass the real CRD schema and arrive intact.
    const fault = {
      id: 'F0001',
      campaignId,
      key: `${campaignId}/F0001`,
      type: 'pod-kill' as const,
      namespace: ns,
      app: 'cartservice',
      pods: [cart],
      params: {},
      plannedMs: Date.now(),
      endMs: Date.now() + 5000,
      detail: {},
    };
    const podChaos = chaosMeshObject(fault);
    const schemas = loadCrdSchemas(CRD_BUNDLE);
    assert.deepEqual(validateChaosObject(podChaos, schemas), []);
    const created = await target.createCustomObject(podChaos);
    const name = podChaos.metadata.name ?? '';
    const stored = api.get('chaos-mesh.org', 'podchaos', ns, name);
    assert.ok(stored);
    assert.deepEqual(stored.spec, {
      action: 'pod-kill',
      mode: 'all',
      selector: { pods: { [ns]: [cart.name] } },
      gracePeriod: 0,
    });
    assert.equal(stored.metadata.labels?.[CAMPAIGN_LABEL], campaignId);
    assert.equal(created.metadata.uid, stored.metadata.uid);
    const createReq = api.requests.find(
      (r) => r.method === 'POST' && r.path === `/apis/chaos-mesh.org/v1alpha1/namespaces/${ns}/podchaos`,
    );
    assert.ok(createReq);
    assert.equal(createReq.status, 201);
    assert.deepEqual(validateChaosObject(createReq.body as { kind: string }, schemas), []);
    // A retried create finds its object instead of failing or adding another.
    const again = await target.createCustomObject(podChaos);
    assert.equal(again.metadata.uid, stored.metadata.uid);
    const listed = await target.listCustomObjects('chaos-mesh.org', 'v1alpha1', 'podchaos', target.campaignSelector);
    assert.deepEqual(
      listed.map((o) => o.metadata.name),
      [name],
    );

    // Chaos Mesh kills the pod: the watch sees it deleted, its replacement added, then ready (observed recovery).
    api.simulatePodRestart(ns, cart.name, 'replace');
    await waitUntil(
      () => events.some((e) => e.type === 'ready' && e.pod.name !== cart.name),
      5000,
      'replacement pod ready',
    );
    const killed = events.find((e) => e.type === 'deleted');
    const added = events.find((e) => e.type === 'added');
    const ready = events.find((e) => e.type === 'ready');
    assert.equal(killed?.pod.name, cart.name);
    assert.ok(added && ready && killed && added.atMs >= killed.atMs && ready.atMs >= added.atMs);
    const recoveredAt = await target.waitPodsReady({ app: 'cartservice' }, 1, 5000);
    assert.ok(recoveredAt >= ready.atMs - 1);

    // A container restart in place: restart count up, not ready, ready again.
    const replacement = ready.pod.name;
    api.simulatePodRestart(ns, replacement, 'container');
    await waitUntil(
      () => events.filter((e) => e.pod.name === replacement && e.type === 'ready').length >= 2,
      5000,
      'container restart observed',
    );
    const restarted = events.find((e) => e.type === 'restarted');
    assert.equal(restarted?.pod.restarts, 1);
    assert.equal(restarted?.previousRestarts, 0);
    assert.ok(events.some((e) => e.type === 'not-ready' && e.pod.name === replacement));
    watch.stop();
    await watch.done;

    // Removing the fault by kind and name.
    assert.equal(await target.deleteCustomObject('PodChaos', name), true);
    assert.equal(await target.deleteCustomObject('PodChaos', name), false);
    await target.createCustomObject(podChaos);
    // Someone else's PodChaos is refused, by name too.
    await assert.rejects(target.deleteCustomObject('PodChaos/other-campaign-fault'), /does not belong to campaign/);

    const deleted = await target.deleteCampaignObjects();
    const expected = [...manifest.map((m) => `${m.kind}/${ns}/${m.metadata.name}`), `PodChaos/${ns}/${name}`].sort();
    assert.deepEqual(deleted.map((r) => `${r.kind}/${r.namespace}/${r.name}`).sort(), expected);
    // What is left is exactly what was there before (pods of our Deployments went with them).
    assert.deepEqual(
      new Set(api.inventory().filter((k) => !k.startsWith('pods/'))),
      new Set([...before].filter((k) => !k.startsWith('pods/'))),
    );
    assert.ok(api.list('', 'pods', ns).every((p) => p.metadata.labels?.app === 'keep-me'));
    // Idempotent.
    assert.deepEqual(await target.deleteCampaignObjects(), []);
    await target.teardown();
  });

  it('creates the namespace when missing and deletes it on teardown', async () => {
    const ns = 'fresh-ns';
    const target = new KubernetesTarget(
      config(ns),
      'campaign with spaces/and a very long id that cannot be a label value as is 1234567890',
    );
    await target.deploy();
    const created = api.get('', 'namespaces', undefined, ns);
    assert.equal(created?.metadata.labels?.[CAMPAIGN_LABEL], target.campaignLabel);
    assert.ok(
      target.campaignLabel.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(target.campaignLabel),
    );
    await target.waitReady(20_000);
    // The manifest file is gone by teardown time: the default kinds are still found by label.
    const gone = new KubernetesTarget(config(ns, { manifest: join(dir, 'deleted-manifest.yaml') }), target.campaignId);
    const deleted = await gone.deleteCampaignObjects();
    assert.equal(deleted.filter((r) => r.kind === 'Deployment').length, 12);
    assert.equal(deleted.at(-1)?.kind, 'Namespace');
    assert.equal(api.get('', 'namespaces', undefined, ns), undefined);
    assert.deepEqual(api.list('', 'pods', ns), []);
  });

  it('names the verb, resource and namespace when RBAC forbids a call', async () => {
    const ns = 'rbac-test';
    api.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    api.forbid({ verb: 'patch', resource: 'deployments', group: 'apps', namespace: ns });
    api.forbid({ verb: 'create', resource: 'podchaos', group: 'chaos-mesh.org', namespace: ns });
    api.forbid({ verb: 'list', resource: 'pods', namespace: ns });
    try {
      const target = new KubernetesTarget(config(ns), 'campaign-rbac');
      const err = await target.deploy().then(
        () => assert.fail('deploy should be forbidden'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof KubeForbiddenError);
      assert.equal(err.name, 'KubeForbidden');
      assert.match(err.message, /permission to patch deployments\.apps "\w+" in namespace "rbac-test"/);
      assert.match(err.message, /RBAC verb "patch" on resource "deployments" in API group "apps"/);
      assert.match(err.message, /infra\/k8s\/rbac/);
      assert.match(err.message, /cannot patch resource "deployments"/); // the API server's own words are kept
      await assert.rejects(
        target.createCustomObject({
          apiVersion: 'chaos-mesh.org/v1alpha1',
          kind: 'PodChaos',
          metadata: { name: 'x' },
          spec: { action: 'pod-kill', mode: 'one', selector: {} },
        }),
        (e: Error) =>
          e instanceof KubeForbiddenError &&
          /create podchaos\.chaos-mesh\.org "x" in namespace "rbac-test"/.test(e.message),
      );
      await assert.rejects(
        target.listPods({ app: 'frontend' }),
        (e: Error) => e instanceof KubeForbiddenError && /list pods in namespace "rbac-test"/.test(e.message),
      );
      // 403 is not retried.
      const listCalls = api.requests.filter(
        (r) => r.path === `/api/v1/namespaces/${ns}/pods` && r.status === 403,
      ).length;
      assert.equal(listCalls, 1);
    } finally {
      api.allowAll();
    }
  });

  it('says how to install Chaos Mesh when its CRDs are missing', async () => {
    const bare = await FakeKubeApi.start({ chaosMeshInstalled: false });
    try {
      const d = mkdtempSync(join(tmpdir(), 'faultline-k8s-bare-'));
      const target = new KubernetesTarget(
        config('boutique', { kubeconfig: bare.writeKubeconfig(d) }),
        'campaign-nochaos',
      );
      await assert.rejects(
        target.deploy(),
        (e: Error) =>
          e instanceof ChaosMeshNotInstalledError && /helm install chaos-mesh/.test(e.message) && /404/.test(e.message),
      );
      await assert.rejects(
        target.createCustomObject({
          apiVersion: 'chaos-mesh.org/v1alpha1',
          kind: 'PodChaos',
          metadata: { name: 'x' },
          spec: {},
        }),
        ChaosMeshNotInstalledError,
      );
      await assert.rejects(
        target.listCustomObjects('chaos-mesh.org', 'v1alpha1', 'podchaos'),
        ChaosMeshNotInstalledError,
      );
      // A campaign without faults may opt out of the check.
      const noChaos = new KubernetesTarget(
        config('boutique', { kubeconfig: bare.writeKubeconfig(d), requireChaosMesh: false }),
        'campaign-nochaos',
      );
      await noChaos.deploy();
      // Teardown still works without Chaos Mesh (nothing of it to delete).
      assert.equal((await target.deleteCampaignObjects()).length, 36, 'the 35 manifest objects and the namespace');
      rmSync(d, { recursive: true, force: true });
    } finally {
      await bare.close();
    }
  });

  it('refuses namespaces outside allowedNamespaces', async () => {
    assert.throws(
      () => new KubernetesTarget(config('kube-system', { allowedNamespaces: ['boutique'] }), 'c'),
      (e: Error) =>
        e instanceof NamespaceNotAllowedError && /"kube-system"/.test(e.message) && /allowedNamespaces/.test(e.message),
    );
    const target = new KubernetesTarget(config('boutique', { allowedNamespaces: ['boutique'] }), 'campaign-guard');
    await assert.rejects(
      target.createCustomObject({
        apiVersion: 'chaos-mesh.org/v1alpha1',
        kind: 'PodChaos',
        metadata: { name: 'escape' },
        spec: { action: 'pod-kill', mode: 'one', selector: { namespaces: ['monitoring'] } },
      }),
      (e: Error) => e instanceof NamespaceNotAllowedError && /"monitoring"/.test(e.message),
    );
    await assert.rejects(
      target.deleteCustomObject('PodChaos', 'x', { namespace: 'temporal' }),
      NamespaceNotAllowedError,
    );
    assert.equal(
      api.requests.filter((r) => r.path.includes('/namespaces/monitoring/') || r.path.includes('/namespaces/temporal/'))
        .length,
      0,
    );
  });

  it('explains where it looked when there is no kubeconfig', () => {
    const empty = join(dir, 'empty-home');
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

  it('talks TLS to the API server, verifying it with the kubeconfig CA, and works in-cluster with the service account', async () => {
    const tlsApi = await FakeKubeApi.start({ tls: true });
    const d = mkdtempSync(join(tmpdir(), 'faultline-k8s-tls-'));
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    try {
      assert.match(tlsApi.url, /^https:/);
      tlsApi.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'boutique' } });
      const viaFile = new KubernetesTarget(
        config('boutique', { kubeconfig: tlsApi.writeKubeconfig(d) }),
        'campaign-tls',
      );
      await viaFile.checkChaosMesh();
      assert.deepEqual(await viaFile.listPods({ app: 'frontend' }), []);

      // In a pod: no kubeconfig anywhere, a service account token and CA, KUBERNETES_SERVICE_HOST/PORT.
      const prefix = join(d, 'pod');
      const saDir = tlsApi.writeServiceAccount(prefix);
      process.env.KUBERNETES_SERVICE_HOST = '127.0.0.1';
      process.env.KUBERNETES_SERVICE_PORT = String(tlsApi.port);
      const cfg = kubernetesTargetSchema.parse({
        type: 'kubernetes',
        namespace: 'boutique',
        prometheusUrl: 'http://p:9090',
      });
      const empty = join(d, 'home');
      mkdirSync(empty);
      const inCluster = new KubernetesTarget(cfg, 'campaign-in-cluster', {
        configSource: { env: { KUBERNETES_SERVICE_HOST: '127.0.0.1' }, homeDir: empty, serviceAccountDir: saDir },
      });
      assert.equal(inCluster.client.server, tlsApi.url);
      assert.deepEqual(await inCluster.listPods({ app: 'frontend' }), []);

      // A token the server does not accept.
      tlsApi.writeServiceAccount(join(d, 'stale'));
      writeFileSync(join(d, 'stale', 'var', 'run', 'secrets', 'kubernetes.io', 'serviceaccount', 'token'), 'expired');
      const stale = new KubernetesTarget(cfg, 'campaign-stale', {
        configSource: {
          env: { KUBERNETES_SERVICE_HOST: '127.0.0.1' },
          homeDir: empty,
          serviceAccountDir: join(d, 'stale', 'var', 'run', 'secrets', 'kubernetes.io', 'serviceaccount'),
        },
      });
      await assert.rejects(
        stale.listPods({}),
        (e: Error) => e instanceof KubeUnauthorizedError && /401/.test(e.message) && /list pods/.test(e.message),
      );
    } finally {
      if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
      else process.env.KUBERNETES_SERVICE_HOST = saved.host;
      if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
      else process.env.KUBERNETES_SERVICE_PORT = saved.port;
      await tlsApi.close();
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('retries 429 and 5xx with back-off, and gives up after a bounded number of attempts', async () => {
    const target = new KubernetesTarget(config('boutique', {}), 'campaign-retry', {
      retry: { initialDelayMs: 5, maxDelayMs: 20, maxAttempts: 4 },
    });
    api.failNext(1, 429);
    api.failNext(2, 503);
    const n = api.requests.length;
    assert.deepEqual(await target.listPods({ app: 'nothing-here' }), []);
    assert.deepEqual(
      api.requests.slice(n).map((r) => r.status),
      [429, 503, 503, 200],
    );
    api.failNext(4, 500);
    await assert.rejects(target.listPods({ app: 'x' }), /gave up after 4 attempts/);
  });

  it('re-lists after 410 Gone and resumes watching until the rollout completes; times out naming what is not ready', async () => {
    const ns = 'slow';
    const target = new KubernetesTarget(config(ns), 'campaign-slow', { watchTimeoutSeconds: 1 });
    api.stuck.add('cartservice');
    await target.deploy();
    const waiting = target.waitReady(20_000);
    await waitUntil(
      () =>
        api.requests.some((r) => r.path === `/apis/apps/v1/namespaces/${ns}/deployments` && r.query.watch === 'true'),
      5000,
      'first watch',
    );
    api.compact(); // the next watch from the old resourceVersion gets 410 Gone
    const lists = () =>
      api.requests.filter((r) => r.path === `/apis/apps/v1/namespaces/${ns}/deployments` && r.query.watch !== 'true')
        .length;
    await waitUntil(() => lists() >= 2, 15_000, 're-list after 410');
    api.release(ns, 'cartservice');
    await waiting;

    // A held Deployment: the timeout names it and says why.
    api.stuck.add('adservice');
    const t2 = new KubernetesTarget(config('slow2'), 'campaign-slow2');
    await t2.deploy();
    // Everything but the held Deployment rolls out first, so the timeout names exactly that one.
    await waitUntil(
      () =>
        api
          .list('apps', 'deployments', 'slow2')
          .filter((d) => (d.status as { availableReplicas?: number }).availableReplicas === 1).length === 11,
      15_000,
      'the other deployments available',
    );
    await assert.rejects(
      t2.waitReady(400),
      (e: Error) =>
        e instanceof RolloutTimeoutError &&
        /adservice: controller has not observed generation 1/.test(e.message) &&
        !/cartservice/.test(e.message),
    );
    api.stuck.clear();
  });
});
