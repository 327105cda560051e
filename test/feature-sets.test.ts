import assert from 'node:assert/strict';
import { parseCampaignConfig } from '../schemas/campaign';
import { featuresSchema } from '../schemas/features';
import { resolveFeatures } from '../activities/metrics/features';

const k8s = { type: 'kubernetes', namespace: 'shop', prometheusUrl: 'http://prometheus:9090' };

describe('feature sets (stock-cluster, service-level)', () => {
  it('defaults to stock-cluster on Kubernetes and service-level on the local target', () => {
    assert.equal(parseCampaignConfig({ name: 'a', target: k8s }).features.set, 'stock-cluster');
    assert.equal(parseCampaignConfig({ name: 'a' }).features.set, 'service-level');
    assert.equal(
      parseCampaignConfig({ name: 'a', target: k8s, features: { set: 'service-level' } }).features.set,
      'service-level',
    );
  });

  it('names stock-cluster columns svc_<app>_<metric> and adds request series only when asked', () => {
    const names = (extra: object) =>
      resolveFeatures(featuresSchema.parse({ set: 'stock-cluster', services: ['redis-cart'], ...extra })).map(
        (f) => f.name,
      );
    const stock = [
      'svc_redis_cart_cpu',
      'svc_redis_cart_mem',
      'svc_redis_cart_net_rx',
      'svc_redis_cart_net_tx',
      'svc_redis_cart_restarts',
      'svc_redis_cart_pods_created',
      'svc_redis_cart_ready_replicas',
    ];
    assert.deepEqual(names({ sets: ['service'] }), stock);
    assert.deepEqual(names({ sets: ['service'], requestMetrics: 'app' }), [
      ...stock,
      'svc_redis_cart_request_rate',
      'svc_redis_cart_error_rate',
      'svc_redis_cart_latency_p95',
      'svc_redis_cart_client_p95',
      'svc_redis_cart_client_errors',
    ]);
    // the node-exporter columns stay part of the stock set's campaign by default
    assert.ok(names({}).includes('node_load1'));
  });

  it('reads restarts through kube_pod_labels: real kube-state-metrics has no app label on the restart counter', () => {
    for (const set of ['service-level', 'stock-cluster'] as const) {
      const f = resolveFeatures(featuresSchema.parse({ set, services: ['cartservice'] })).find(
        (x) => x.name === 'svc_cartservice_restarts',
      );
      assert.ok(f);
      assert.doesNotMatch(f.query, /restarts_total\{[^}]*app=/);
      assert.match(f.query, /on\(namespace, pod\) group_left\(label_app\) kube_pod_labels\{label_app="cartservice"\}/);
    }
  });
});
