import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { tableFromIPC } from 'apache-arrow';
import { chaosSchema, faultSpecSchema, FAULT_TYPES, type ChaosConfig, type FaultType } from '../schemas/faults';
import { parseDuration } from '../schemas/duration';
import {
  chaosMeshObject,
  CHAOS_KIND,
  KubernetesInjector,
  type ChaosObjectClient,
} from '../activities/chaos/chaos-mesh';
import type { KubeObject } from '../activities/deploy/kube-objects';
import { loadCrdSchemas, validateChaosObject, type OpenApiSchema } from '../activities/chaos/crd-schema';
import { checkConcurrency, checkSpec, checkTarget, preflight } from '../activities/chaos/guard';
import { selectPods } from '../activities/chaos/select';
import {
  FaultLog,
  FaultLogTail,
  exportFaultLogArrow,
  foldFaultLog,
  grafanaAnnotations,
  readFaultLog,
  readFaultLogEvents,
} from '../activities/chaos/fault-log';
import type { ResolvedFault } from '../activities/chaos/kinds/kind';
import { kindOf } from '../activities/chaos/kinds/registry';
import type { PodInfo } from '../activities/deploy/types';
import { planFaults, type ChaosLoopState } from '../workflows/chaos-loop';
import { restoreEnv } from './helpers/env';

const CRD_DIR =
  process.env.FAULTLINE_CHAOS_MESH_REF ?? join(__dirname, '..', '..', '..', 'shared', 'reference', 'chaos-mesh');

const pod = (name: string, app = 'cartservice', ns = 'boutique'): PodInfo => ({
  name,
  uid: `uid-${name}`,
  namespace: ns,
  labels: { app },
  phase: 'Running',
  ready: true,
  restarts: 0,
});

function loopState(chaos: ChaosConfig, startMs: number): ChaosLoopState {
  return {
    seq: 0,
    cursorMs: startMs,
    rng: chaos.seed,
    epoch: 0,
    injected: 0,
    rejected: 0,
    failed: 0,
    paused: false,
    stopRequested: false,
    sloBreachSince: {},
    runs: 0,
    preflightDone: false,
  };
}

describe('chaos: fault vocabulary (schemas/faults.ts)', () => {
  it('defaults to the reference pod-kill every 1–2 s plus at least two other fault types', () => {
    const c = chaosSchema.parse({});
    assert.deepEqual(c.schedule, { type: 'uniform', min: '1s', max: '2s' });
    assert.ok(c.faults.some((f) => f.type === 'pod-kill'));
    assert.ok(new Set(c.faults.map((f) => f.type)).size >= 3);
    assert.ok(c.episodes, 'the default chaos phase alternates bursts and quiet gaps');
    assert.equal(c.guard.allowModeAll, false);
  });

  it('accepts every fault type with defaults and rejects bad modes and parameters', () => {
    for (const type of FAULT_TYPES)
      assert.equal(faultSpecSchema.parse({ type, params: kindOf(type).example ?? {} }).type, type);
    assert.throws(() => faultSpecSchema.parse({ type: 'pod-kill', mode: 'fixed' }), /integer `value`/);
    assert.throws(() => faultSpecSchema.parse({ type: 'pod-kill', mode: 'fixed-percent', value: 150 }), /\(0, 100\]/);
    assert.throws(() => faultSpecSchema.parse({ type: 'network-delay', params: { latency: '200 ms' } }), /latency/);
    assert.throws(() => faultSpecSchema.parse({ type: 'disk-fill' }));
    assert.throws(() => chaosSchema.parse({ schedule: { type: 'poisson' } }));
  });
});

describe('chaos: plan (workflows/chaos-loop.ts planFaults)', () => {
  it('plans the same faults for the same seed, 1–2 s apart inside bursts only', () => {
    const chaos = chaosSchema.parse({ seed: 7, episodes: { burst: '20s', quiet: '10s' } });
    const start = 1_700_000_000_000;
    const a = planFaults(chaos, loopState(chaos, start), start, start + 120_000, 500);
    const b = planFaults(chaos, loopState(chaos, start), start, start + 120_000, 500);
    assert.deepEqual(a, b);
    assert.ok(a.length > 40);
    for (let i = 1; i < a.length; i++) {
      const prev = a[i - 1]!;
      const cur = a[i]!;
      const gap = cur.plannedMs - prev.plannedMs;
      const offset = (cur.plannedMs - start) % 30_000;
      assert.ok(offset < 20_000, `fault ${cur.id} at +${cur.plannedMs - start} ms falls in a quiet gap`);
      if (offset >= 2000) assert.ok(gap >= 1000 && gap <= 2000, `gap ${gap} ms`);
      // faults end by the end of their burst
      assert.ok(offset + cur.durationMs <= 20_000 || cur.durationMs === 500);
    }
    const kinds = new Set(a.map((f) => f.type));
    assert.ok(kinds.size >= 3, `mix used ${[...kinds].join(', ')}`);
  });

  it('continues the same plan across a split (continue-as-new carries the state)', () => {
    const chaos = chaosSchema.parse({ seed: 3, episodes: null, schedule: { type: 'poisson', mean: '1500ms' } });
    const start = 1_700_000_000_000;
    const whole = planFaults(chaos, loopState(chaos, start), start, start + 60_000, 1000);
    const st = loopState(chaos, start);
    const parts = [
      ...planFaults(chaos, st, start, start + 60_000, 10),
      ...planFaults(chaos, JSON.parse(JSON.stringify(st)) as ChaosLoopState, start, start + 60_000, 1000),
    ];
    assert.deepEqual(parts, whole);
    assert.deepEqual(
      whole.map((f) => f.seq),
      whole.map((_, i) => i),
    );
  });
});

describe('chaos: plan order (chaos.order)', () => {
  const specs = [
    { type: 'pod-kill', duration: '5s', selector: { app: 'frontend' } },
    { type: 'cpu-stress', duration: '5s', weight: 9, selector: { app: 'cartservice' } },
    { type: 'network-delay', duration: '5s', selector: { app: 'currencyservice' } },
  ] as const;
  const episodes = { burst: '10s', quiet: '10s' };

  it('cycle: every spec exactly N times, in config order, the same across a continue-as-new split', () => {
    const chaos = chaosSchema.parse({
      seed: 5,
      order: 'cycle',
      schedule: { type: 'fixed', interval: '20s' },
      episodes,
      faults: specs,
    });
    const start = 1_700_000_000_000;
    // 12 periods of 20 s = 12 faults over 3 specs = 4 each, whatever the weights
    const whole = planFaults(chaos, loopState(chaos, start), start, start + 240_000, 1000, Infinity, 'cycle');
    assert.equal(whole.length, 12);
    assert.deepEqual(
      whole.map((f) => f.specIndex),
      [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2],
    );
    assert.deepEqual(
      whole.map((f) => f.type),
      whole.map((_, i) => specs[i % 3]!.type),
    );
    const st = loopState(chaos, start);
    const parts = [
      ...planFaults(chaos, st, start, start + 240_000, 5, Infinity, 'cycle'),
      ...planFaults(
        chaos,
        JSON.parse(JSON.stringify(st)) as ChaosLoopState,
        start,
        start + 240_000,
        1000,
        Infinity,
        'cycle',
      ),
    ];
    assert.deepEqual(parts, whole);
  });

  it('absent order resolves as before (no key) and plans the weighted draw', () => {
    const plain = chaosSchema.parse({ seed: 5, schedule: { type: 'fixed', interval: '20s' }, episodes, faults: specs });
    assert.equal('order' in plain, false, 'an old config resolves to the same object');
    const weighted = chaosSchema.parse({ ...plain, order: 'weighted' });
    const start = 1_700_000_000_000;
    const a = planFaults(plain, loopState(plain, start), start, start + 240_000, 1000);
    const b = planFaults(weighted, loopState(weighted, start), start, start + 240_000, 1000, Infinity, 'weighted');
    assert.deepEqual(a, b);
    // weight 9 of 11 on cpu-stress: the draw is not the round-robin
    assert.notDeepEqual(
      a.map((f) => f.specIndex),
      a.map((_, i) => i % 3),
    );
    assert.throws(() => chaosSchema.parse({ order: 'random' }), /order/);
  });
});

describe('chaos: pod selection modes (select.ts)', () => {
  const pods = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].map((n) => pod(n));
  it('picks by mode, deterministically by seed', () => {
    assert.equal(selectPods(pods, 'one', undefined, 1).length, 1);
    assert.equal(selectPods(pods, 'all', undefined, 1).length, 10);
    assert.equal(selectPods(pods, 'fixed', 3, 1).length, 3);
    assert.equal(selectPods(pods, 'fixed-percent', 50, 1).length, 5);
    for (let s = 0; s < 50; s++) {
      const n = selectPods(pods, 'random-max-percent', 30, s).length;
      assert.ok(n >= 1 && n <= 3);
    }
    assert.deepEqual(selectPods(pods, 'fixed', 2, 42), selectPods([...pods].reverse(), 'fixed', 2, 42));
    assert.deepEqual(selectPods([], 'one', undefined, 1), []);
  });
});

describe('chaos: blast-radius guard (guard.ts)', () => {
  const guard = chaosSchema.parse({}).guard;
  it('refuses the platform, out-of-scope namespaces and services, mode all and too many faults, saying why', () => {
    assert.match(checkTarget(guard, { namespace: 'boutique', app: 'temporal' }) ?? '', /part of the platform/);
    assert.match(checkTarget(guard, { namespace: 'boutique', app: 'prometheus' }) ?? '', /never faulted/);
    assert.match(checkTarget(guard, { namespace: 'boutique', app: 'redis-cart' }) ?? '', /allowRedis/);
    assert.equal(checkTarget({ ...guard, allowRedis: true }, { namespace: 'boutique', app: 'redis-cart' }), undefined);
    assert.match(
      checkTarget(guard, { namespace: 'kube-system', app: 'cartservice' }) ?? '',
      /outside chaos.guard.allowedNamespaces/,
    );
    assert.match(
      checkTarget({ ...guard, allowedServices: ['frontend'] }, { namespace: 'boutique', app: 'cartservice' }) ?? '',
      /allowedServices/,
    );
    assert.equal(checkTarget(guard, { namespace: 'boutique', app: 'cartservice' }), undefined);
    const all = faultSpecSchema.parse({ type: 'pod-kill', mode: 'all', selector: { app: 'cartservice' } });
    assert.match(checkSpec(guard, all) ?? '', /allowModeAll/);
    assert.equal(checkSpec({ ...guard, allowModeAll: true }, all), undefined);
    assert.match(checkConcurrency(guard, guard.maxConcurrent) ?? '', /maxConcurrent/);
    const specs = [
      faultSpecSchema.parse({ type: 'pod-kill', selector: { app: 'temporal' } }),
      faultSpecSchema.parse({ type: 'pod-kill' }),
    ];
    const refusals = preflight(guard, specs);
    assert.equal(refusals.length, 1);
    assert.match(refusals[0] ?? '', /chaos\.faults\[0\] \(pod-kill\): refused: "temporal"/);
  });
});

describe('chaos: Chaos Mesh objects (chaos-mesh.ts) against the CRD openAPIV3Schema', function () {
  this.timeout(60_000);
  let schemas: Map<string, OpenApiSchema>;
  before(() => {
    schemas = loadCrdSchemas(join(CRD_DIR, 'crd.yaml'));
  });

  it('the reference samples: valid.yaml passes, each invalid.yaml document fails for its reason', () => {
    const docs = (f: string) =>
      parseAllDocuments(readFileSync(join(CRD_DIR, 'samples', f), 'utf8')).map(
        (d) => d.toJS() as { kind: string; metadata: { name: string } },
      );
    for (const obj of docs('valid.yaml'))
      assert.deepEqual(validateChaosObject(obj, schemas), [], `${obj.kind} ${obj.metadata.name}`);
    const expected: Record<string, RegExp[]> = {
      bad1: [/spec\.action: "pod-delete" is not one of/],
      bad2: [/spec\.mode: "some"/, /spec\.delay\.latency: "200 ms" does not match/],
      bad3: [/stressors\.cpu\.workers: required/, /load: 150 is above the maximum 100/],
      bad4: [/spec\.target: required/],
      bad5: [/spec\.schedule: required/, /concurrencyPolicy: "Replace"/],
    };
    for (const obj of docs('invalid.yaml')) {
      const errs = validateChaosObject(obj, schemas);
      for (const re of expected[obj.metadata.name] ?? [/./])
        assert.ok(
          errs.some((e) => re.test(e)),
          `${obj.metadata.name}: ${errs.join('; ')}`,
        );
    }
  });

  it('every fault type becomes a schema-valid PodChaos/NetworkChaos/StressChaos/HTTPChaos with campaign labels', () => {
    for (const type of FAULT_TYPES) {
      const spec = faultSpecSchema.parse({
        type,
        selector: { app: 'cartservice' },
        params: kindOf(type).example ?? {},
      });
      const fault: ResolvedFault = {
        id: 'f000012',
        campaignId: 'campaign-nightly-20260101t020000',
        key: 'campaign-nightly-20260101t020000:f000012',
        type,
        namespace: 'boutique',
        app: 'cartservice',
        pods: [pod('cartservice-7d9c-abcde')],
        params: spec.params,
        plannedMs: 1_700_000_000_000,
        endMs: 1_700_000_000_000 + parseDuration(spec.duration),
        detail: {},
      };
      const obj = chaosMeshObject(fault);
      assert.equal(obj.kind, CHAOS_KIND[type]);
      assert.equal(obj.metadata.labels?.['faultline.io/campaign'], 'campaign-nightly-20260101t020000');
      assert.equal(obj.metadata.labels?.['faultline.io/fault-id'], 'f000012');
      assert.match(obj.metadata.name ?? '', /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      assert.deepEqual(validateChaosObject(obj, schemas), [], `${type}: ${JSON.stringify(obj.spec)}`);
    }
  });

  it('catches a broken object (so the check is not vacuous)', () => {
    const bad = {
      apiVersion: 'chaos-mesh.org/v1alpha1',
      kind: 'NetworkChaos',
      metadata: { name: 'x' },
      spec: { action: 'delay', mode: 'one', selector: {}, delay: { latency: 200 }, bogus: 1 },
    };
    const errs = validateChaosObject(bad, schemas);
    assert.ok(errs.some((e) => /latency: must be string/.test(e)));
    assert.ok(errs.some((e) => /spec\.bogus: unknown field/.test(e)));
  });
});

describe('chaos: ground-truth log (fault-log.ts)', () => {
  const dirs: string[] = [];
  const previousHome = process.env.FAULTLINE_HOME;
  after(() => {
    restoreEnv('FAULTLINE_HOME', previousHome);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  it('folds fsync’d events into records, skips a torn last line, exports Arrow and annotations', () => {
    const dir = mkdtempSync(join(tmpdir(), 'faultline-chaos-log-'));
    dirs.push(dir);
    process.env.FAULTLINE_HOME ??= join(dir, 'home');
    const path = join(dir, 'chaos', 'faults.jsonl');
    const log = FaultLog.open(path);
    const target = { namespace: 'default', app: 'cartservice', pods: ['cartservice-0'] };
    log.append({ ev: 'campaign', ts: 1, campaignId: 'c1', targetKind: 'local', supervisorUrl: 'http://127.0.0.1:1' });
    log.append({
      ev: 'planned',
      ts: 990,
      id: 'f000000',
      campaignId: 'c1',
      type: 'pod-kill',
      target,
      params: {},
      plannedMs: 1000,
      plannedEndMs: 11_000,
    });
    log.append({ ev: 'applied', ts: 1003, id: 'f000000' });
    log.append({ ev: 'removed', ts: 1003, id: 'f000000' });
    log.append({ ev: 'recovered', ts: 2500, id: 'f000000' });
    log.append({
      ev: 'rejected',
      ts: 2990,
      id: 'f000001',
      campaignId: 'c1',
      type: 'pod-kill',
      plannedMs: 3000,
      error: 'refused: "temporal" is part of the platform',
    });
    log.append({
      ev: 'planned',
      ts: 4990,
      id: 'f000002',
      campaignId: 'c1',
      type: 'network-delay',
      target,
      params: { latency: '200ms' },
      plannedMs: 5000,
      plannedEndMs: 9000,
    });
    log.append({ ev: 'applied', ts: 5001, id: 'f000002' });
    log.close();
    appendFileSync(path, '{"ev":"removed","ts":90'); // a crash mid-write
    const recs = readFaultLog(path);
    assert.equal(recs.length, 3);
    assert.deepEqual(
      recs.map((r) => [r.id, r.status, r.appliedMs, r.removedMs, r.recoveredMs]),
      [
        ['f000000', 'removed', 1003, 1003, 2500],
        ['f000001', 'rejected', undefined, undefined, undefined],
        ['f000002', 'applied', 5001, undefined, undefined],
      ],
    );
    assert.match(recs[1]?.error ?? '', /platform/);
    const arrow = join(dir, 'faults.arrow');
    exportFaultLogArrow(recs, arrow);
    const table = tableFromIPC(readFileSync(arrow));
    assert.equal(table.numRows, 3);
    assert.equal(table.getChild('applied_ms')?.get(0), 1003);
    assert.equal(table.getChild('applied_ms')?.get(1), null);
    const ann = grafanaAnnotations(recs);
    assert.equal(ann.length, 2);
    assert.deepEqual([ann[0]?.time, ann[0]?.timeEnd], [1003, 2500]);
    writeFileSync(join(dir, 'x'), '');
  });

  it('appends off the event loop in order (group writes) and is read incrementally, a half-written line later', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faultline-chaos-log-'));
    dirs.push(dir);
    process.env.FAULTLINE_HOME ??= join(dir, 'home');
    const path = join(dir, 'chaos', 'faults.jsonl');
    const log = FaultLog.open(path);
    const tail = new FaultLogTail(path);
    assert.deepEqual(tail.readNew(), []);
    log.append({
      ev: 'planned',
      ts: 1,
      id: 'f000000',
      campaignId: 'c1',
      type: 'network-delay',
      target: { namespace: 'default', app: 'cartservice', pods: ['cartservice-0'] },
      params: { note: 'non-ASCII: µs → ✓' },
      plannedMs: 10,
      plannedEndMs: 20,
    });
    const writes = [
      log.appendAsync({ ev: 'applied', ts: 11, id: 'f000000' }),
      log.appendAsync({ ev: 'removed', ts: 20, id: 'f000000' }),
      log.appendAsync({ ev: 'recovered', ts: 25, id: 'f000000' }),
    ];
    await log.flush();
    await Promise.all(writes);
    assert.deepEqual(
      readFaultLogEvents(path).map((e) => e.ev),
      ['planned', 'applied', 'removed', 'recovered'],
    );
    const records = foldFaultLog(tail.readNew());
    assert.deepEqual(records.get('f000000')?.params, { note: 'non-ASCII: µs → ✓' });
    assert.equal(records.get('f000000')?.recoveredMs, 25);
    log.close();
    appendFileSync(path, '{"ev":"planned","ts":30,"id":"f000001","campaignId":"c1","type":"pod-kill","target":');
    assert.deepEqual(tail.readNew(), [], 'a line still being written is not returned');
    appendFileSync(path, '{"namespace":"default","app":"x","pods":[]},"params":{},"plannedMs":40,"plannedEndMs":40}\n');
    foldFaultLog(tail.readNew(), records);
    assert.deepEqual([...records.keys()], ['f000000', 'f000001']);
    assert.equal(records.get('f000000')?.status, 'removed');
  });
});

describe('chaos: Kubernetes injector (Chaos Mesh objects through the target)', () => {
  it('creates one labelled object per fault, finds it on retry, deletes it at the end and sweeps a campaign', async () => {
    const objects = new Map<string, KubeObject>();
    const matches = (o: KubeObject, sel?: string) =>
      (sel ?? '')
        .split(',')
        .filter(Boolean)
        .every((kv) => {
          const [k, v] = kv.split('=');
          return o.metadata.labels?.[k ?? ''] === v;
        });
    const client: ChaosObjectClient = {
      listPods: () => Promise.resolve([pod('cartservice-abc')]),
      createCustomObject: (o) => {
        const key = `${o.kind}/${o.metadata.name ?? ''}`;
        if (!objects.has(key)) objects.set(key, o);
        return Promise.resolve(objects.get(key) as KubeObject);
      },
      deleteCustomObject: (kind, name) => Promise.resolve(objects.delete(`${kind}/${name}`)),
      listCustomObjects: (_g, _v, plural, sel) =>
        Promise.resolve([...objects.values()].filter((o) => o.kind.toLowerCase() === plural && matches(o, sel))),
    };
    const inj = new KubernetesInjector(client);
    const mk = (id: string, type: FaultType): ResolvedFault => ({
      id,
      campaignId: 'c-k8s',
      key: `c-k8s:${id}`,
      type,
      namespace: 'boutique',
      app: 'cartservice',
      pods: [pod('cartservice-abc')],
      params: faultSpecSchema.parse({ type }).params,
      plannedMs: 1_700_000_000_000,
      endMs: 1_700_000_010_000,
      detail: {},
    });
    const delay = mk('f000001', 'network-delay');
    await inj.apply(delay);
    await inj.apply(delay); // a retry finds it
    assert.equal(objects.size, 1);
    assert.equal(await inj.isApplied(delay), true);
    assert.equal(await inj.recovered(delay, Date.now()), false);
    await inj.recover(delay);
    assert.equal(objects.size, 0);
    assert.equal(await inj.recovered(delay, Date.now()), true);
    await inj.apply(mk('f000002', 'cpu-stress'));
    await inj.apply(mk('f000003', 'http-abort'));
    assert.equal(await inj.sweep('c-k8s'), 2);
    assert.equal(objects.size, 0);
  });
});
