import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { KUBE_PERMISSIONS } from '../activities/deploy/kubernetes-target';
import { TEMPORAL_ENV_HELP, temporalEnv } from '../infra/temporal/connection-options';
import { parseCampaignConfig } from '../schemas/campaign';
import { SEARCH_ATTRIBUTES, TASK_QUEUE, TRAINING_TASK_QUEUE } from '../workflows/messages';

const ROOT = resolve(__dirname, '..', '..');
const K8S = join(ROOT, 'infra', 'k8s');

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}
interface Container {
  name: string;
  image?: string;
  command?: string[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
  }[];
  envFrom?: { configMapRef?: { name: string } }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  serviceAccountName?: string;
  containers: Container[];
  initContainers?: Container[];
  nodeSelector?: Record<string, string>;
  tolerations?: { key?: string; operator?: string; effect?: string }[];
  volumes?: {
    name: string;
    persistentVolumeClaim?: { claimName: string };
    secret?: { secretName: string; optional?: boolean };
  }[];
}
interface Deployment extends Obj {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const KNOWN_KINDS: Record<string, string[]> = {
  v1: ['Namespace', 'ServiceAccount', 'ConfigMap', 'Service', 'PersistentVolumeClaim', 'Secret'],
  'apps/v1': ['Deployment'],
  'rbac.authorization.k8s.io/v1': ['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'],
};
const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// name[:tag][@sha256:digest], registry host optional (docker reference grammar, simplified).
const IMAGE_REF =
  /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

function walk(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p, ext) : ext.test(f) ? [p] : [];
  });
}

function loadObjects(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => {
      assert.deepEqual(d.errors, [], `${file} parses`);
      return d.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o !== null);
}

/** cpu "500m" / "2" → cores; memory "64Mi" / "1Gi" → bytes. */
function quantity(q: string): number {
  const m = /^([0-9.]+)(m|Ki|Mi|Gi|Ti|k|M|G)?$/.exec(q);
  assert.ok(m, `quantity ${q}`);
  const n = Number(m[1]);
  const mult: Record<string, number> = {
    m: 1e-3,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
    k: 1e3,
    M: 1e6,
    G: 1e9,
  };
  return n * (m[2] ? (mult[m[2]] ?? 1) : 1);
}

const sortedRules = (rules: { group: string; resource: string; verbs: readonly string[] }[]) =>
  rules.map((r) => `${r.group}/${r.resource}:${[...r.verbs].sort().join(',')}`).sort();

describe('deployment manifests (infra/k8s, infra/grafana, infra/docker, docker-compose.yml)', () => {
  const files = walk(K8S, /\.ya?ml$/);
  const kustomizations = files.filter((f) => f.endsWith('kustomization.yaml'));
  const manifestFiles = files.filter((f) => !f.endsWith('kustomization.yaml'));
  const all = manifestFiles.flatMap((f) => loadObjects(f).map((o) => ({ file: relative(ROOT, f), o })));
  const ours = all.filter((x) => !x.file.includes('/boutique/'));
  const byKind = (kind: string) => ours.filter((x) => x.o.kind === kind).map((x) => x.o);

  it('parses every manifest, with known kinds, apiVersions and DNS-1123 names', () => {
    assert.ok(ours.length >= 12, 'the bases hold the worker, RBAC, Temporal and Prometheus objects');
    for (const { file, o } of all) {
      assert.ok(KNOWN_KINDS[o.apiVersion]?.includes(o.kind), `${file}: ${o.apiVersion} ${o.kind} is a known kind`);
      assert.match(o.metadata.name, DNS1123, `${file}: ${o.kind} name`);
    }
    const keys = ours.map((x) => `${x.o.kind}/${x.o.metadata.namespace ?? ''}/${x.o.metadata.name}`);
    assert.equal(new Set(keys).size, keys.length, 'no duplicate objects');
  });

  it('has kustomizations that reference only files and bases that exist, and build with kustomize', function () {
    for (const k of kustomizations) {
      const doc = parse(readFileSync(k, 'utf8')) as { apiVersion: string; kind: string; resources: string[] };
      assert.equal(doc.kind, 'Kustomization');
      assert.equal(doc.apiVersion, 'kustomize.config.k8s.io/v1beta1');
      for (const r of doc.resources) {
        const p = join(dirname(k), r);
        assert.ok(existsSync(p), `${relative(ROOT, k)}: resource ${r} exists`);
        if (statSync(p).isDirectory()) assert.ok(existsSync(join(p, 'kustomization.yaml')), `${r} is a kustomize base`);
      }
      // Every manifest in the folder is listed (nothing silently left out of `kubectl apply -k`).
      for (const f of readdirSync(dirname(k)).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')) {
        assert.ok(doc.resources.includes(f), `${relative(ROOT, k)} lists ${f}`);
      }
    }
    let kubectl = true;
    try {
      execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 20_000 });
    } catch {
      kubectl = false;
    }
    if (!kubectl) return this.skip(); // structural checks above still ran; kustomize itself is optional here
    for (const base of [K8S, join(K8S, 'prometheus')]) {
      const out = execFileSync('kubectl', ['kustomize', base], { encoding: 'utf8', timeout: 30_000 });
      const built = parseAllDocuments(out).map((d) => d.toJS() as Obj);
      assert.ok(built.length > 0);
      if (base === K8S) {
        const images = built
          .filter((o) => o.kind === 'Deployment')
          .flatMap((d) => (d as Deployment).spec.template.spec.containers.map((c) => c.image));
        assert.deepEqual(images.sort(), ['faultline-training:0.1.0', 'faultline-worker:0.1.0']);
      }
    }
  });

  it('gives every container resource requests and limits, and every Deployment a selector matching its template', () => {
    const deployments = all.filter((x) => x.o.kind === 'Deployment');
    assert.ok(deployments.length >= 14, 'both worker pools and the boutique workloads');
    for (const { file, o } of deployments) {
      const d = o as Deployment;
      const where = `${file}: ${d.metadata.name}`;
      const labels = d.spec.template.metadata.labels;
      assert.ok(Object.keys(d.spec.selector.matchLabels).length > 0, `${where}: selector`);
      for (const [k, v] of Object.entries(d.spec.selector.matchLabels))
        assert.equal(labels[k], v, `${where}: selector ${k}=${v} matches the template labels`);
      // Upstream's loadgenerator init container (a busybox wget loop) sets no resources; ours all do.
      const upstream = file.includes('/boutique/');
      for (const c of [
        ...d.spec.template.spec.containers,
        ...(upstream ? [] : (d.spec.template.spec.initContainers ?? [])),
      ]) {
        assert.ok(c.image, `${where}/${c.name}: image`);
        for (const r of ['cpu', 'memory']) {
          const req = c.resources?.requests?.[r];
          const lim = c.resources?.limits?.[r];
          assert.ok(req && lim, `${where}/${c.name}: ${r} request and limit`);
          assert.ok(quantity(req) <= quantity(lim), `${where}/${c.name}: ${r} request ≤ limit`);
        }
      }
    }
  });

  it('runs the CPU pool on queue faultline and the GPU pool on faultline-training with GPUs, node selector and tolerations', () => {
    const deployments = byKind('Deployment') as Deployment[];
    const cpu = deployments.find((d) => d.metadata.name === 'faultline-worker');
    const gpu = deployments.find((d) => d.metadata.name === 'faultline-training');
    assert.ok(cpu && gpu);
    // The entry points poll these queues (workers/*.ts import them from workflows/messages.ts).
    const cpuC = cpu.spec.template.spec.containers[0];
    const gpuC = gpu.spec.template.spec.containers[0];
    assert.ok(cpuC && gpuC);
    assert.deepEqual(cpuC.command, ['node', 'lib/workers/main.js']);
    assert.deepEqual(gpuC.command, ['node', 'lib/workers/training.js']);
    assert.equal(TASK_QUEUE, 'faultline');
    assert.equal(TRAINING_TASK_QUEUE, 'faultline-training');
    // the main worker polls `faultline` (or FAULTLINE_TASK_QUEUE) plus its own chaos host queue (docs/coordination.md)
    const mainWorker = readFileSync(join(ROOT, 'workers', 'main.ts'), 'utf8');
    assert.match(mainWorker, /const taskQueue = process\.env\.FAULTLINE_TASK_QUEUE \?\? TASK_QUEUE;/);
    assert.match(mainWorker, /Worker\.create\(\{[^}]*\btaskQueue,/);
    assert.match(readFileSync(join(ROOT, 'workers', 'training.ts'), 'utf8'), /taskQueue: TRAINING_TASK_QUEUE/);

    assert.equal(gpuC.resources?.limits?.['nvidia.com/gpu'], '1');
    assert.equal(cpuC.resources?.limits?.['nvidia.com/gpu'], undefined);
    assert.ok(Object.keys(gpu.spec.template.spec.nodeSelector ?? {}).some((k) => k.startsWith('nvidia.com/')));
    assert.ok(gpu.spec.template.spec.tolerations?.some((t) => t.key === 'nvidia.com/gpu' && t.effect === 'NoSchedule'));
    assert.equal(gpuC.env?.find((e) => e.name === 'FAULTLINE_GPUS')?.value, gpuC.resources?.limits?.['nvidia.com/gpu']);

    // Both pools: Temporal connection from the ConfigMap, API key from an optional Secret, one shared data volume.
    const cm = byKind('ConfigMap').find((c) => c.metadata.name === 'faultline-temporal') as Obj & {
      data: Record<string, string>;
    };
    assert.ok(cm);
    const cmText = readFileSync(join(ROOT, 'infra', 'k8s', 'temporal', 'configmap.yaml'), 'utf8');
    for (const key of Object.keys(cm.data)) assert.ok(key in TEMPORAL_ENV_HELP, `the workers read ${key}`);
    assert.equal(temporalEnv(cm.data).address, cm.data.TEMPORAL_ADDRESS, 'the ConfigMap is a valid connection');
    const pvcs = byKind('PersistentVolumeClaim');
    for (const d of [cpu, gpu]) {
      const c = d.spec.template.spec.containers[0] as Container;
      assert.ok(c.envFrom?.some((e) => e.configMapRef?.name === 'faultline-temporal'));
      const key = c.env?.find((e) => e.name === 'TEMPORAL_API_KEY')?.valueFrom?.secretKeyRef;
      assert.ok(key && key.optional === true && key.key === 'TEMPORAL_API_KEY');
      assert.ok(!JSON.stringify(d).match(/TEMPORAL_API_KEY","value"/), 'no key inline');
      const claim = d.spec.template.spec.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim
        ?.claimName;
      assert.ok(claim && pvcs.some((p) => p.metadata.name === claim));
      assert.equal(
        c.env?.find((e) => e.name === 'FAULTLINE_HOME')?.value,
        c.volumeMounts?.find((m) => m.name === 'data')?.mountPath,
      );
      // the mTLS client certificate: an optional Secret, mounted read-only where the ConfigMap's comment says
      const tlsVolume = d.spec.template.spec.volumes?.find((v) => v.name === 'temporal-tls');
      assert.deepEqual(
        { name: tlsVolume?.secret?.secretName, optional: tlsVolume?.secret?.optional },
        { name: 'faultline-temporal-tls', optional: true },
      );
      const tlsMount = c.volumeMounts?.find((m) => m.name === 'temporal-tls');
      assert.ok(tlsMount?.readOnly === true && tlsMount.mountPath === '/etc/faultline/temporal-tls');
      assert.ok(cmText.includes(`TEMPORAL_TLS_CERT: ${tlsMount.mountPath}/tls.crt`));
    }
    const pvc = pvcs[0] as Obj & { spec: { accessModes: string[] } };
    assert.deepEqual(pvc.spec.accessModes, ['ReadWriteMany'], 'both pools share campaign files');
    assert.ok(byKind('ServiceAccount').some((s) => s.metadata.name === cpu.spec.template.spec.serviceAccountName));
    assert.ok(byKind('ServiceAccount').some((s) => s.metadata.name === gpu.spec.template.spec.serviceAccountName));
  });

  it('grants the chaos controller exactly the verbs and resources the Kubernetes target uses, and nothing cluster-wide but reading namespaces', () => {
    const roles = [...byKind('Role'), ...byKind('ClusterRole')] as (Obj & { rules: Rule[] })[];
    for (const r of roles) {
      for (const rule of r.rules) {
        for (const f of [rule.apiGroups, rule.resources, rule.verbs])
          assert.ok(!f.includes('*'), `${r.metadata.name}: no wildcards`);
        assert.ok(rule.verbs.every((v) => ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete'].includes(v)));
        assert.ok(
          !rule.verbs.includes('deletecollection') && !rule.verbs.includes('escalate') && !rule.verbs.includes('bind'),
        );
      }
    }
    const flatten = (rules: Rule[]) =>
      rules.flatMap((r) =>
        r.apiGroups.flatMap((group) => r.resources.map((resource) => ({ group, resource, verbs: r.verbs }))),
      );
    const role = byKind('Role').find((r) => r.metadata.name === 'faultline-chaos-controller') as Obj & {
      rules: Rule[];
    };
    const clusterRole = byKind('ClusterRole').find((r) => r.metadata.name === 'faultline-target-namespaces') as Obj & {
      rules: Rule[];
    };
    assert.ok(role && clusterRole);
    assert.deepEqual(sortedRules(flatten(role.rules)), sortedRules([...KUBE_PERMISSIONS.namespaced]));
    assert.deepEqual(sortedRules(flatten(clusterRole.rules)), sortedRules([...KUBE_PERMISSIONS.cluster]));
    // The Role lives in the target namespace, which this base creates; bindings point at real roles and accounts.
    assert.ok(byKind('Namespace').some((n) => n.metadata.name === role.metadata.namespace));
    for (const b of [...byKind('RoleBinding'), ...byKind('ClusterRoleBinding')] as (Obj & {
      roleRef: { kind: string; name: string };
      subjects: { kind: string; name: string; namespace: string }[];
    })[]) {
      assert.ok(
        roles.some((r) => r.kind === b.roleRef.kind && r.metadata.name === b.roleRef.name),
        `${b.metadata.name}: roleRef exists`,
      );
      if (b.kind === 'RoleBinding')
        assert.equal(
          b.metadata.namespace,
          (roles.find((r) => r.metadata.name === b.roleRef.name) as Obj).metadata.namespace,
        );
      for (const s of b.subjects) {
        assert.equal(s.kind, 'ServiceAccount');
        assert.ok(
          byKind('ServiceAccount').some((sa) => sa.metadata.name === s.name && sa.metadata.namespace === s.namespace),
        );
        assert.equal(s.name, 'faultline-worker', 'only the CPU pool talks to the Kubernetes API');
      }
    }
    const training = byKind('ServiceAccount').find((s) => s.metadata.name === 'faultline-training') as Obj & {
      automountServiceAccountToken?: boolean;
    };
    assert.equal(training.automountServiceAccountToken, false);
  });

  it('scrapes the target namespace from the Prometheus scrape config', () => {
    const cm = byKind('ConfigMap').find((c) => c.metadata.name === 'faultline-scrape-config') as Obj & {
      data: Record<string, string>;
    };
    assert.ok(cm);
    const cfg = parse(cm.data['faultline-scrape.yaml'] ?? '') as {
      scrape_configs: {
        job_name: string;
        kubernetes_sd_configs: { role: string; namespaces?: { names: string[] } }[];
        metric_relabel_configs?: { regex: string }[];
      }[];
    };
    const jobs = cfg.scrape_configs.map((j) => j.job_name);
    assert.equal(new Set(jobs).size, jobs.length);
    assert.ok(cfg.scrape_configs.every((j) => j.kubernetes_sd_configs.length > 0));
    const pods = cfg.scrape_configs.find((j) => j.kubernetes_sd_configs.some((s) => s.role === 'pod'));
    assert.deepEqual(pods?.kubernetes_sd_configs[0]?.namespaces?.names, ['boutique']);
    for (const j of cfg.scrape_configs.filter((x) => x.metric_relabel_configs))
      assert.equal(j.metric_relabel_configs?.[0]?.regex, 'boutique');
    assert.ok(jobs.some((j) => j.includes('node-exporter')) && jobs.some((j) => j.includes('kube-state-metrics')));
  });

  it('ships the upstream Online Boutique manifest with its license', () => {
    const upstream = loadObjects(join(K8S, 'boutique', 'kubernetes-manifests.yaml'));
    assert.equal(upstream.length, 35);
    assert.ok(upstream.every((o) => o.metadata.namespace === undefined));
    assert.ok(existsSync(join(K8S, 'boutique', 'LICENSE')));
    assert.match(readFileSync(join(K8S, 'boutique', 'README.md'), 'utf8'), /34ffea9175946982c3088ed84994fe6019ad6e92/);
  });

  it('has a Kubernetes campaign example that passes the campaign schema', () => {
    const cfg = parseCampaignConfig(parse(readFileSync(join(ROOT, 'examples', 'kubernetes-campaign.yaml'), 'utf8')));
    assert.equal(cfg.target.type, 'kubernetes');
    if (cfg.target.type !== 'kubernetes') return;
    assert.equal(cfg.target.namespace, 'boutique');
    assert.deepEqual(cfg.target.allowedNamespaces, ['boutique']);
    assert.equal(cfg.target.kubeconfig, undefined, 'in-cluster workers use their service account');
  });

  describe('docker-compose.yml', () => {
    interface Service {
      image?: string;
      build?: { context: string; dockerfile: string };
      volumes?: string[];
      depends_on?: string[] | Record<string, { condition: string }>;
      environment?: Record<string, string>;
      command?: string[] | string;
    }
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, Service>;
      volumes: Record<string, unknown>;
    };
    const services = compose.services;

    it('parses and holds the whole single-host stack', () => {
      for (const s of [
        'postgresql',
        'temporal',
        'temporal-ui',
        'prometheus',
        'grafana',
        'node-exporter',
        'worker',
        'training-worker',
      ]) {
        assert.ok(services[s], `service ${s}`);
      }
      assert.equal(services['temporal-ui']?.environment?.TEMPORAL_START_WORKFLOW_DISABLED, 'false');
      assert.equal(services.temporal?.environment?.DB, 'postgres12');
      for (const [name, s] of Object.entries(services)) {
        const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
        for (const d of deps) assert.ok(services[d], `${name} depends on existing service ${d}`);
      }
      // The setup job registers the search attributes the workflows set.
      const setup = JSON.stringify(services['temporal-setup']?.command);
      for (const [k, v] of Object.entries(SEARCH_ATTRIBUTES))
        assert.ok(setup.includes(`--name ${k} --type ${v}`), `registers ${k}`);
    });

    it('references only well-formed, pinned images and files that exist', () => {
      for (const [name, s] of Object.entries(services)) {
        assert.ok(s.image, `${name}: image`);
        assert.match(s.image, IMAGE_REF, `${name}: ${s.image} is a well-formed reference`);
        assert.ok(/:[\w][\w.-]*$/.test(s.image) && !s.image.endsWith(':latest'), `${name}: ${s.image} is pinned`);
        if (s.build) {
          assert.ok(
            existsSync(join(ROOT, s.build.context, s.build.dockerfile)),
            `${name}: ${s.build.dockerfile} exists`,
          );
        }
        for (const v of s.volumes ?? []) {
          const [src] = v.split(':');
          assert.ok(src);
          if (src.startsWith('.')) assert.ok(existsSync(join(ROOT, src)), `${name}: bind mount ${src} exists`);
          else if (!src.startsWith('/')) assert.ok(src in compose.volumes, `${name}: named volume ${src} declared`);
        }
      }
      const gpu = parse(readFileSync(join(ROOT, 'infra', 'docker', 'compose.gpu.yml'), 'utf8')) as {
        services: Record<string, unknown>;
      };
      for (const s of Object.keys(gpu.services)) assert.ok(services[s], `GPU override names existing service ${s}`);
    });

    it('builds images from Dockerfiles whose base images are well-formed and whose COPY sources exist', () => {
      for (const f of ['worker.Dockerfile', 'training.Dockerfile']) {
        const text = readFileSync(join(ROOT, 'infra', 'docker', f), 'utf8');
        const stages = new Set<string>();
        for (const m of text.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)) {
          const image = m[1] ?? '';
          if (!stages.has(image)) {
            assert.match(image, IMAGE_REF, `${f}: FROM ${image}`);
            assert.ok(/:[\w][\w.-]*$/.test(image), `${f}: ${image} pinned`);
          }
          if (m[2]) stages.add(m[2]);
        }
        for (const m of text.matchAll(/^COPY\s+(?!--from)(.+)$/gm)) {
          const parts = (m[1] ?? '').trim().split(/\s+/);
          for (const src of parts.slice(0, -1))
            assert.ok(existsSync(join(ROOT, src)), `${f}: COPY source ${src} exists`);
        }
        assert.ok(
          existsSync(join(ROOT, 'infra', 'docker', `${f}.dockerignore`)),
          `${f}.dockerignore keeps node_modules out of the context`,
        );
      }
      assert.match(
        readFileSync(join(ROOT, 'infra', 'docker', 'training.Dockerfile'), 'utf8'),
        /^FROM pytorch\/pytorch:[\w.-]*cuda/m,
      );
    });

    it('points Prometheus at compose services only', () => {
      const prom = parse(readFileSync(join(ROOT, 'infra', 'docker', 'prometheus.yml'), 'utf8')) as {
        scrape_configs: { static_configs: { targets: string[] }[] }[];
      };
      for (const job of prom.scrape_configs) {
        for (const t of job.static_configs.flatMap((s) => s.targets)) {
          const host = t.split(':')[0] ?? '';
          assert.ok(host === 'localhost' || services[host], `scrape target ${t} is a compose service`);
        }
      }
    });

    it('provisions Grafana with the dashboards and a Prometheus datasource', () => {
      const mounts = services.grafana?.volumes ?? [];
      const dashMount = mounts.find((v) => v.startsWith('./infra/grafana/dashboards:'));
      const provider = parse(
        readFileSync(join(ROOT, 'infra', 'grafana', 'provisioning', 'dashboards', 'faultline.yaml'), 'utf8'),
      ) as { providers: { options: { path: string } }[] };
      assert.equal(dashMount?.split(':')[1], provider.providers[0]?.options.path);
      const dsText = readFileSync(
        join(ROOT, 'infra', 'grafana', 'provisioning', 'datasources', 'prometheus.yaml'),
        'utf8',
      );
      const ds = parse(dsText) as { datasources: { type: string; url: string; isDefault?: boolean }[] };
      assert.ok(ds.datasources.every((d) => d.type === 'prometheus'));
      assert.equal(ds.datasources.filter((d) => d.isDefault).length, 1);
      for (const m of dsText.matchAll(/\$\{(\w+)\}/g)) {
        assert.ok(services.grafana?.environment?.[m[1] ?? ''], `compose sets ${m[1]} for Grafana`);
      }
    });
  });

  describe('Grafana dashboards', () => {
    const dir = join(ROOT, 'infra', 'grafana', 'dashboards');
    const dashboards = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ f, d: JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown> }));

    it('are valid JSON with unique uids, and panels that query Prometheus', () => {
      assert.ok(dashboards.length >= 2);
      const uids = dashboards.map((x) => x.d.uid);
      assert.equal(new Set(uids).size, uids.length);
      const exprs = dashboards.flatMap((x) =>
        (x.d.panels as { targets: { expr: string }[] }[]).flatMap((p) => p.targets.map((t) => t.expr)),
      );
      assert.ok(exprs.every((e) => typeof e === 'string' && e.length > 0));
      const all = exprs.join('\n');
      // node features (the reference columns) and service request/error/latency/restarts
      for (const m of [
        'node_load1',
        'node_cpu_seconds_total',
        'node_memory_MemAvailable_bytes',
        'node_disk_read_bytes_total',
        'node_network_receive_bytes_total',
        'node_filesystem_avail_bytes',
        'grpc_server_handled_total',
        'http_requests_total',
        'grpc_server_handling_seconds_bucket',
        'kube_pod_container_status_restarts_total',
      ]) {
        assert.ok(all.includes(m), `a panel queries ${m}`);
      }
    });

    it('annotate faults from the campaign (tag faultline) and restarts from Prometheus', () => {
      for (const { f, d } of dashboards) {
        const list = (
          d.annotations as {
            list: {
              name: string;
              datasource: { type: string };
              target?: { type: string; tags: string[] };
              expr?: string;
              enable: boolean;
            }[];
          }
        ).list;
        const faults = list.find((a) => a.target?.type === 'tags');
        assert.ok(faults?.target?.tags.includes('faultline') && faults.enable, `${f}: fault annotations by tag`);
        assert.ok(
          list.some(
            (a) => a.datasource.type === 'prometheus' && a.expr?.includes('kube_pod_container_status_restarts_total'),
          ),
          `${f}: restart annotations`,
        );
      }
      // The chaos activity writes annotations.json with exactly that tag.
      assert.match(readFileSync(join(ROOT, 'activities', 'chaos', 'fault-log.ts'), 'utf8'), /tags: \['faultline'/);
    });
  });
});
