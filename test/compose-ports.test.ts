import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

// The single-host stack's services do not authenticate as compose configures them, and Temporal (7233) and its UI
// (8080, Start Workflow) start campaigns, i.e. inject faults. So nothing may be published beyond loopback; exposing a
// port is a deliberate change behind authentication (docs/kubernetes.md "Exposing the single-host stack").

const ROOT = join(__dirname, '..', '..');

/** Every compose file in the repository: the root one and the overrides under infra/docker. */
function composeFiles(): string[] {
  const found = ['docker-compose.yml'];
  for (const f of readdirSync(join(ROOT, 'infra', 'docker'))) {
    if (/^(docker-)?compose[\w.-]*\.ya?ml$/.test(f)) found.push(join('infra', 'docker', f));
  }
  return found;
}

function isLoopback(ip: string): boolean {
  const bare = ip.replace(/^\[|\]$/g, '');
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare) || bare === '::1' || bare === 'localhost';
}

/**
 * The host address a short-syntax port entry ("[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]") publishes on, or
 * undefined when it names none (then Docker publishes on every interface).
 */
function shortSyntaxHostIp(entry: string): string | undefined {
  const spec = entry.replace(/\/\w+$/, '');
  const v6 = /^(\[[^\]]+\]):/.exec(spec);
  if (v6) return v6[1];
  const parts = spec.split(':');
  return parts.length === 3 ? parts[0] : undefined;
}

/** Every way a compose document publishes beyond loopback, as "file: service: why" lines. */
export function exposures(file: string, doc: unknown): string[] {
  const out: string[] = [];
  const services = (doc as { services?: Record<string, Record<string, unknown> | null> }).services ?? {};
  for (const [name, svc] of Object.entries(services)) {
    if (!svc) continue;
    if (svc.network_mode === 'host') out.push(`${file}: ${name}: network_mode host publishes every port it listens on`);
    const ports = svc.ports;
    if (ports === undefined) continue;
    if (!Array.isArray(ports)) {
      out.push(`${file}: ${name}: ports is not a list`);
      continue;
    }
    for (const p of ports as unknown[]) {
      if (typeof p === 'string' || typeof p === 'number') {
        const ip = shortSyntaxHostIp(String(p));
        if (ip === undefined || !isLoopback(ip))
          out.push(`${file}: ${name}: '${p}' is published on ${ip ?? 'every interface'}; write '127.0.0.1:${p}'`);
      } else if (p && typeof p === 'object') {
        const ip = (p as { host_ip?: unknown }).host_ip;
        if (typeof ip !== 'string' || !isLoopback(ip))
          out.push(`${file}: ${name}: ${JSON.stringify(p)} has host_ip ${String(ip)}; set host_ip: 127.0.0.1`);
      } else {
        out.push(`${file}: ${name}: unreadable port entry ${JSON.stringify(p)}`);
      }
    }
  }
  return out;
}

describe('compose files publish nothing beyond loopback', () => {
  it('finds the root compose file and the GPU override', () => {
    const files = composeFiles();
    assert.ok(files.includes('docker-compose.yml'));
    assert.ok(files.includes(join('infra', 'docker', 'compose.gpu.yml')), files.join(', '));
  });

  for (const file of composeFiles()) {
    it(`${file}: every published port is bound to 127.0.0.1`, () => {
      const doc: unknown = parse(readFileSync(join(ROOT, file), 'utf8'));
      assert.deepEqual(exposures(file, doc), []);
    });
  }

  it('the root compose file still publishes the UI, Temporal, Prometheus and Grafana (on loopback)', () => {
    const doc = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { ports?: string[] }>;
    };
    const published = Object.values(doc.services).flatMap((s) => s.ports ?? []);
    for (const port of [7233, 8080, 9090, 3000]) assert.ok(published.includes(`127.0.0.1:${port}:${port}`), `${port}`);
  });

  it('flags every form of publishing beyond loopback', () => {
    const bad = {
      services: {
        a: { ports: ['7233:7233'] },
        b: { ports: ['0.0.0.0:8080:8080'] },
        c: { ports: [9090] },
        d: { ports: ['192.168.1.5:3000:3000/tcp'] },
        e: { ports: [{ target: 80, published: 8081 }] },
        f: { ports: [{ target: 80, published: 8082, host_ip: '0.0.0.0' }] },
        g: { network_mode: 'host' },
        h: { ports: ['[::]:3001:3001'] },
        i: { ports: ['${BIND}:3002:3002'] },
      },
    };
    const found = exposures('bad.yml', bad);
    assert.equal(found.length, 9, found.join('\n'));
    const good = {
      services: {
        a: { ports: ['127.0.0.1:7233:7233', '127.0.0.1::9000', '[::1]:3000:3000/udp'] },
        b: { ports: [{ target: 80, published: 8081, host_ip: '127.0.0.1' }] },
        c: { pid: 'host' },
        d: null,
      },
    };
    assert.deepEqual(exposures('good.yml', good), []);
  });
});
