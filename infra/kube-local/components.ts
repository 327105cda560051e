import path from 'node:path';
import type { BootstrapApi } from './api';
import type { ClusterPki } from './certs';
import { httpOk } from './health';
import { clusterPrometheusConfig, prometheusComponents } from './prometheus';
import { logSinceStart, type ComponentSpec } from './processes';
import { KWOK_NODE_ANNOTATION } from './stages';

/** The cluster's ports, in this order from its base port (`faultline cluster up --base-port`). */
export const CLUSTER_PORT_NAMES = [
  'etcd',
  'etcdPeer',
  'controllerManager',
  'apiserver',
  'scheduler',
  'kwok',
  'kubeStateMetrics',
  'kubeStateMetricsTelemetry',
  'chaosWebhook',
  'chaosMetrics',
  'nodeExporter',
  'prometheus',
] as const;
export type ClusterPortName = (typeof CLUSTER_PORT_NAMES)[number];
export type ClusterPorts = Record<ClusterPortName, number>;
export const CLUSTER_PORT_SPAN = CLUSTER_PORT_NAMES.length;
/** Default base port: the API server on 17443 (16443 is microk8s's; the local stack uses 18000-19400). */
export const DEFAULT_BASE_PORT = 17440;

export function clusterPorts(basePort: number): ClusterPorts {
  return Object.fromEntries(CLUSTER_PORT_NAMES.map((n, i) => [n, basePort + i])) as ClusterPorts;
}

/** Start order (stop runs clients first, then the API server, then etcd). */
export const COMPONENT_NAMES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
  'kube-state-metrics',
  'chaos-controller-manager',
  'node-exporter',
  'prometheus',
] as const;
export type ComponentName = (typeof COMPONENT_NAMES)[number];

export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const POD_CIDR = '10.244.0.0/16';
/** Namespace Chaos Mesh's controller manager treats as its own (leader election, config maps). */
export const CHAOS_MESH_NAMESPACE = 'default';
/** kube-state-metrics exports these objects' labels as label_<name> (kube_pod_labels, kube_deployment_labels). */
export const KSM_LABELS_ALLOWLIST = 'pods=[*],deployments=[*]';

export interface PlanInput {
  dir: string;
  binDir: string;
  ports: ClusterPorts;
  pki: ClusterPki;
  kubeconfig: string;
  kwokConfig: string;
  api: () => BootstrapApi;
  /** node-exporter + a Prometheus scraping kube-state-metrics and it. */
  prometheus?: { scrapeInterval: string; configFile: string };
}

/** Every process of the cluster with its flags (shared/reference/kubernetes-local/README.md has why these). */
export function planComponents(p: PlanInput): ComponentSpec[] {
  const { ports, pki } = p;
  const bin = (n: string) => path.join(p.binDir, n);
  const local = (port: number) => `127.0.0.1:${port}`;
  const kube = [`--kubeconfig=${p.kubeconfig}`];
  const specs: ComponentSpec[] = [
    {
      name: 'etcd',
      bin: bin('etcd'),
      args: [
        '--name=default',
        `--data-dir=${path.join(p.dir, 'etcd')}`,
        `--listen-client-urls=http://${local(ports.etcd)}`,
        `--advertise-client-urls=http://${local(ports.etcd)}`,
        `--listen-peer-urls=http://${local(ports.etcdPeer)}`,
        `--initial-advertise-peer-urls=http://${local(ports.etcdPeer)}`,
        `--initial-cluster=default=http://${local(ports.etcdPeer)}`,
        '--initial-cluster-state=new',
        // test data: no fsync (the reference README measured it; a 2-core host otherwise stalls on every write)
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      ports: [
        { port: ports.etcd, what: 'client' },
        { port: ports.etcdPeer, what: 'peer' },
      ],
      address: `http://${local(ports.etcd)}`,
      health: () => httpOk(`http://${local(ports.etcd)}/health`, { expect: '"health":"true"' }),
    },
    {
      name: 'kube-apiserver',
      bin: bin('kube-apiserver'),
      args: [
        `--etcd-servers=http://${local(ports.etcd)}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${ports.apiserver}`,
        // loopback is refused as an advertise address unless the endpoint reconciler is off
        '--endpoint-reconciler-type=none',
        '--authorization-mode=RBAC',
        `--client-ca-file=${pki.caCert}`,
        `--tls-cert-file=${pki.apiserverCert}`,
        `--tls-private-key-file=${pki.apiserverKey}`,
        `--service-account-key-file=${pki.saPub}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
        '--allow-privileged=true',
        // the "kubelet" is kwok's server (logs, port-forward simulation)
        `--kubelet-client-certificate=${pki.adminCert}`,
        `--kubelet-client-key=${pki.adminKey}`,
        '--kubelet-preferred-address-types=InternalIP',
        '--profiling=false',
      ],
      ports: [{ port: ports.apiserver, what: 'HTTPS' }],
      address: `https://${local(ports.apiserver)}`,
      health: () => p.api().ok('/readyz'),
    },
    // controller-manager and scheduler: no --authentication/authorization-kubeconfig (their /healthz is open
    // anyway, and delegated authentication would only log errors about the request-header CA this cluster lacks)
    {
      name: 'kube-controller-manager',
      bin: bin('kube-controller-manager'),
      args: [
        ...kube,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.controllerManager}`,
        `--cert-dir=${path.join(p.dir, 'controller-manager')}`,
        `--service-account-private-key-file=${pki.saKey}`,
        `--root-ca-file=${pki.caCert}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${pki.caKey}`,
        '--cluster-name=faultline-local',
        '--profiling=false',
      ],
      ports: [{ port: ports.controllerManager, what: 'HTTPS' }],
      address: `https://${local(ports.controllerManager)}`,
      health: () => httpOk(`https://${local(ports.controllerManager)}/healthz`),
    },
    {
      name: 'kube-scheduler',
      bin: bin('kube-scheduler'),
      args: [
        ...kube,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.scheduler}`,
        `--cert-dir=${path.join(p.dir, 'scheduler')}`,
        '--profiling=false',
      ],
      ports: [{ port: ports.scheduler, what: 'HTTPS' }],
      address: `https://${local(ports.scheduler)}`,
      health: () => httpOk(`https://${local(ports.scheduler)}/healthz`),
    },
    {
      name: 'kwok',
      bin: bin('kwok'),
      args: [
        ...kube,
        `--config=${p.kwokConfig}`,
        '--manage-all-nodes=false',
        `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
        '--node-ip=127.0.0.1',
        `--node-port=${ports.kwok}`,
        `--server-address=${local(ports.kwok)}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        '--node-lease-duration-seconds=40',
        // port-forward rules as objects (infra/kube-local/crds/kwok-port-forward.yaml), so tests can add their own
        '--enable-crds=PortForward,ClusterPortForward',
        `--cidr=${POD_CIDR}`,
      ],
      ports: [{ port: ports.kwok, what: 'HTTPS ("kubelet")' }],
      address: `https://${local(ports.kwok)}`,
      health: () => httpOk(`https://${local(ports.kwok)}/healthz`),
    },
    {
      name: 'kube-state-metrics',
      bin: bin('kube-state-metrics'),
      args: [
        ...kube,
        '--host=127.0.0.1',
        `--port=${ports.kubeStateMetrics}`,
        '--telemetry-host=127.0.0.1',
        `--telemetry-port=${ports.kubeStateMetricsTelemetry}`,
        `--metric-labels-allowlist=${KSM_LABELS_ALLOWLIST}`,
      ],
      ports: [
        { port: ports.kubeStateMetrics, what: 'metrics' },
        { port: ports.kubeStateMetricsTelemetry, what: 'telemetry' },
      ],
      address: `http://${local(ports.kubeStateMetrics)}/metrics`,
      health: () => httpOk(`http://${local(ports.kubeStateMetrics)}/healthz`),
    },
    {
      name: 'chaos-controller-manager',
      bin: bin('chaos-controller-manager'),
      args: [...kube],
      // its settings are environment variables (pkg/config/controller.go of the module)
      env: {
        CERTS_DIR: pki.webhookDir,
        WEBHOOK_HOST: '127.0.0.1',
        WEBHOOK_PORT: String(ports.chaosWebhook),
        METRICS_HOST: '127.0.0.1',
        METRICS_PORT: String(ports.chaosMetrics),
        ENABLE_LEADER_ELECTION: 'false',
        // no admission webhook is registered with the API server here
        SECURITY_MODE: 'false',
        NAMESPACE: CHAOS_MESH_NAMESPACE,
      },
      ports: [
        { port: ports.chaosWebhook, what: 'webhook' },
        { port: ports.chaosMetrics, what: 'metrics' },
      ],
      address: `http://${local(ports.chaosMetrics)}/metrics`,
      health: () => httpOk(`http://${local(ports.chaosMetrics)}/metrics`, { timeoutMs: 3000 }),
      // /metrics answers while the informers still sync; ready once the PodChaos controller's workers run
      ready: async () =>
        /Starting workers.*"controllerKind": "PodChaos"/.test(
          logSinceStart(path.join(p.dir, 'logs', 'chaos-controller-manager.log')),
        ) && httpOk(`http://${local(ports.chaosMetrics)}/metrics`, { timeoutMs: 3000 }),
    },
  ];
  if (p.prometheus) {
    specs.push(
      ...prometheusComponents({
        dir: p.dir,
        configFile: p.prometheus.configFile,
        prometheusPort: ports.prometheus,
        nodeExporterPort: ports.nodeExporter,
      }),
    );
  }
  return specs;
}

export function prometheusConfigFor(ports: ClusterPorts, scrapeInterval: string): string {
  return clusterPrometheusConfig({
    scrapeInterval,
    ksmPort: ports.kubeStateMetrics,
    nodeExporterPort: ports.nodeExporter,
  });
}
