import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAULT_TYPES, faultSpecSchema, guardSchema } from '../schemas/faults';
import { FAULT_KINDS, kindOf, withKindParams } from '../activities/chaos/kinds/registry';
import { faultKindsTable, KINDS_TABLE_END, KINDS_TABLE_START } from '../activities/chaos/kinds/docs-table';
import { selectTarget, type SelectionInput } from '../activities/chaos/select';
import { LocalInjector } from '../activities/chaos/injector';
import type { PodInfo } from '../activities/deploy/types';

// lib/test/ → repository root
const ROOT = join(__dirname, '..', '..');
const KINDS_DIR = join(ROOT, 'activities', 'chaos', 'kinds');

describe('fault kinds: one module per kind, one registry', () => {
  it('docs/fault-kinds.md holds the table generated from the registry', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'fault-kinds.md'), 'utf8');
    const start = doc.indexOf(KINDS_TABLE_START);
    const end = doc.indexOf(KINDS_TABLE_END);
    assert.ok(start >= 0 && end > start, `docs/fault-kinds.md must contain ${KINDS_TABLE_START} … ${KINDS_TABLE_END}`);
    const table = doc.slice(start + KINDS_TABLE_START.length, end).trim();
    assert.equal(
      table,
      faultKindsTable(),
      'docs/fault-kinds.md is out of date with activities/chaos/kinds/registry.ts; replace its table with:\n' +
        faultKindsTable(),
    );
  });

  it('kind modules import nothing Node-side at runtime (they are in the workflow bundle)', () => {
    const allowed = [/^zod$/, /^\.\/[a-z-]+$/, /^\.\.\/pods-back$/, /^\.\.\/\.\.\/\.\.\/schemas\/duration$/];
    const files = readdirSync(KINDS_DIR).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length >= FAULT_KINDS.length);
    for (const f of files) {
      const src = readFileSync(join(KINDS_DIR, f), 'utf8');
      for (const m of src.matchAll(/^import\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)) {
        if (m[1]) continue; // import type: erased
        const spec = m[2] ?? '';
        assert.ok(
          allowed.some((re) => re.test(spec)),
          `activities/chaos/kinds/${f} imports '${spec}' at runtime; kinds reach mechanisms through their context ` +
            '(use `import type`, see docs/fault-kinds.md "Bundle rule")',
        );
      }
    }
  });

  it('FAULT_TYPES and the spec union are the registry, in its order, each with its defaults', () => {
    assert.deepEqual(
      [...FAULT_TYPES],
      FAULT_KINDS.map((k) => k.type),
    );
    for (const kind of FAULT_KINDS) {
      // a kind with a required parameter names it in `example`; every other parameter has its default
      const spec = faultSpecSchema.parse({ type: kind.type, params: kind.example ?? {} });
      assert.deepEqual(spec.params, kind.params.parse(kind.example ?? {}), kind.type);
      if (!kind.example) assert.deepEqual(spec.params, kind.params.parse({}), kind.type);
      assert.equal(spec.duration, kind.defaultDuration ?? '10s', kind.type);
      assert.match(kind.report.color, /^#[0-9a-f]{6}$/, kind.type);
      assert.ok(kind.doc.length > 10 && !kind.doc.includes('\n'), `${kind.type}: doc is one line`);
    }
    assert.equal(new Set(FAULT_TYPES).size, FAULT_TYPES.length, 'kind types are unique');
  });

  it('an unknown kind or a bad parameter is an error naming it', () => {
    assert.throws(() => kindOf('disk-fill'), /unknown fault type "disk-fill": this version knows pod-kill, /);
    assert.throws(
      () => withKindParams(kindOf('network-loss'), { id: 'f000007', type: 'network-loss', params: { loss: 250 } }),
      /fault f000007 \(network-loss\): params\.loss: /,
    );
    // removal does not fail on it: the logged params pass as they are
    assert.deepEqual(
      withKindParams(
        kindOf('network-loss'),
        { id: 'f7', type: 'network-loss', params: { loss: 250 } },
        { lenient: true },
      ),
      { loss: 250 },
    );
    // a fault rebuilt from an older log line without a parameter gets today's default
    assert.deepEqual(withKindParams(kindOf('http-abort'), { id: 'f1', type: 'http-abort', params: { code: 500 } }), {
      code: 500,
      percent: 100,
    });
  });
});

describe('selection written once (select.ts selectTarget)', () => {
  const pod = (name: string, app: string, extra: Partial<PodInfo> = {}): PodInfo => ({
    name,
    uid: `uid-${name}`,
    namespace: 'default',
    labels: { app },
    phase: 'Running',
    ready: true,
    restarts: 0,
    ...extra,
  });
  const pods = [
    ...['a', 'b', 'c', 'd'].map((s) => pod(`cartservice-${s}`, 'cartservice')),
    pod('frontend-a', 'frontend'),
    pod('frontend-b', 'frontend'),
    pod('checkoutservice-a', 'checkoutservice'),
    pod('checkoutservice-b', 'checkoutservice', { phase: 'Failed' }),
    pod('prometheus-0', 'prometheus'),
    pod('elsewhere-a', 'adservice', { namespace: 'other' }),
  ];
  const listPods = (labels: Record<string, string>) =>
    Promise.resolve(pods.filter((p) => Object.entries(labels).every(([k, v]) => p.labels[k] === v)));
  const input = (over: Partial<SelectionInput> = {}): SelectionInput => ({
    selector: { labels: {} },
    mode: 'one',
    guard: guardSchema.parse({ allowedNamespaces: ['default'] }),
    chaosSeed: 1,
    faultId: 'f000001',
    podSeed: 7,
    listPods,
    ...over,
  });

  it('same seeds, same picks; other seeds spread over the in-scope services and pods', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const args = input({ faultId: `f${String(i).padStart(6, '0')}`, podSeed: i * 7919 });
      const a = await selectTarget(args);
      const b = await selectTarget(args);
      assert.deepEqual(a, b);
      assert.ok(!('error' in a));
      // never the platform (prometheus) nor a namespace outside the guard
      assert.ok(['cartservice', 'frontend', 'checkoutservice'].includes(a.app), a.app);
      assert.equal(a.pods.length, 1);
      assert.notEqual(a.pods[0]?.phase, 'Failed');
      seen.add(a.pods[0]?.name ?? '');
    }
    assert.ok(seen.size >= 5, `picks spread: ${[...seen].join(', ')}`);
  });

  it('modes pick Chaos Mesh counts among the named service; explicit pods and HTTP-only kinds narrow it', async () => {
    const count = async (mode: SelectionInput['mode'], value?: number) => {
      const r = await selectTarget(input({ selector: { app: 'cartservice', labels: {} }, mode, value }));
      assert.ok(!('error' in r));
      return r.pods.length;
    };
    assert.equal(await count('all'), 4);
    assert.equal(await count('fixed', 3), 3);
    assert.equal(await count('fixed-percent', 50), 2);
    const rmp = await count('random-max-percent', 50);
    assert.ok(rmp >= 1 && rmp <= 2);
    const explicit = await selectTarget(
      input({ selector: { app: 'cartservice', labels: {}, pods: ['cartservice-c'] }, mode: 'all' }),
    );
    assert.ok(!('error' in explicit));
    assert.deepEqual(
      explicit.pods.map((p) => p.name),
      ['cartservice-c'],
    );
    // an http kind with no app named lands on the target's HTTP apps only (the local injector's eligibility)
    const local = new LocalInjector('http://127.0.0.1:1', ['frontend']);
    for (let i = 0; i < 10; i++) {
      const r = await selectTarget(
        input({ faultId: `f${i}`, eligibleApps: (apps) => local.eligibleApps('http-abort', apps) }),
      );
      assert.ok(!('error' in r) && r.app === 'frontend');
    }
    assert.deepEqual(local.eligibleApps('pod-kill', ['a', 'frontend']), ['a', 'frontend']);
  });

  it('refusals say which event they become: the guard rejects, an empty service fails', async () => {
    const platform = await selectTarget(input({ selector: { app: 'prometheus', labels: {} } }));
    assert.ok('error' in platform && platform.ev === 'rejected', JSON.stringify(platform));
    // a service with no pods has no namespace: the guard refuses it
    const unknown = await selectTarget(input({ selector: { app: 'nosuchservice', labels: {} } }));
    assert.ok('error' in unknown && unknown.ev === 'rejected' && /allowedNamespaces/.test(unknown.error));
    // a service whose only matching pod has failed: nothing to hit
    const none = await selectTarget(
      input({ selector: { app: 'checkoutservice', labels: {}, pods: ['checkoutservice-b'] }, mode: 'all' }),
    );
    assert.ok('error' in none && none.ev === 'failed' && /no running pods/.test(none.error), JSON.stringify(none));
    const listFails = await selectTarget(input({ listPods: () => Promise.reject(new Error('connection refused')) }));
    assert.ok('error' in listFails && /could not list pods: connection refused/.test(listFails.error));
  });
});
