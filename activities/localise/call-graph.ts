import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../infra/home';
import { serviceKey } from './series';

/** Who calls whom: service → the services it calls (column-name form, dashes as underscores). */
export type CallGraph = Record<string, string[]>;

/** The Online Boutique manifest the local stand-in mirrors and the Kubernetes target deploys by default. */
export const BOUTIQUE_MANIFEST = join(REPO_ROOT, 'infra', 'k8s', 'boutique', 'kubernetes-manifests.yaml');

interface EnvVar {
  name?: unknown;
  value?: unknown;
}

/**
 * The call graph from a manifest's Deployments: a service calls every other Deployment that one of its
 * containers' `*_ADDR` env vars names (`CART_SERVICE_ADDR=cartservice:7070`, `REDIS_ADDR=redis-cart:6379`), the
 * way Online Boutique wires its services. Addresses naming no Deployment of the manifest are left out.
 */
export function callGraphFromManifest(path = BOUTIQUE_MANIFEST): CallGraph {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`call graph: cannot read the manifest ${path}: ${(err as Error).message}`, { cause: err });
  }
  const env = new Map<string, string[]>();
  for (const doc of parseAllDocuments(text)) {
    const o = doc.toJS() as {
      kind?: string;
      metadata?: { name?: string };
      spec?: { template?: { spec?: { containers?: Array<{ env?: EnvVar[] }> } } };
    } | null;
    if (o?.kind !== 'Deployment' || !o.metadata?.name) continue;
    const hosts: string[] = [];
    for (const c of o.spec?.template?.spec?.containers ?? [])
      for (const e of c.env ?? [])
        if (typeof e.name === 'string' && /_ADDR$/.test(e.name) && typeof e.value === 'string')
          hosts.push(e.value.split(':')[0] ?? '');
    env.set(o.metadata.name, hosts);
  }
  if (env.size === 0) throw new Error(`call graph: ${path} has no Deployment`);
  const graph: CallGraph = {};
  for (const [name, hosts] of env)
    graph[serviceKey(name)] = [...new Set(hosts.filter((h) => h !== name && env.has(h)).map(serviceKey))].sort();
  return graph;
}

/** Every service reachable from `s` through calls (its dependencies, theirs, …), without `s`. */
export function downstreamOf(graph: CallGraph, s: string): Set<string> {
  const seen = new Set<string>();
  const stack = [...(graph[s] ?? [])];
  while (stack.length) {
    const d = stack.pop()!;
    if (d === s || seen.has(d)) continue;
    seen.add(d);
    stack.push(...(graph[d] ?? []));
  }
  return seen;
}
