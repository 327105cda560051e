import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../local/paths';
import type { BootstrapApi } from './api';
import { ClusterError } from './errors';

export interface CrdDocument {
  name: string;
  group: string;
  plural: string;
  /** The document as YAML (server-side apply takes YAML as is). */
  yaml: string;
  /** The same as JSON, when known: the API server decodes it faster (it is YAML too, for the apply). */
  json?: string;
}

export const CLUSTER_FIELD_MANAGER = 'faultline-cluster';

/** kwok's PortForward/ClusterPortForward CRDs (vendored from kwok v0.8.0; kwok runs with --enable-crds for them). */
export const KWOK_CRD_FILE = path.join(repoRoot(), 'infra', 'kube-local', 'crds', 'kwok-port-forward.yaml');

/** The CustomResourceDefinitions of a multi-document YAML bundle (Chaos Mesh's crd.yaml: 23 of them, 3 MB). */
export function crdDocuments(text: string): CrdDocument[] {
  const out: CrdDocument[] = [];
  for (const doc of text.split(/^---[ \t]*$/m)) {
    if (!/^kind:\s*CustomResourceDefinition\s*$/m.test(doc)) continue;
    // top-level metadata.name, spec.group and spec.names.plural (indentation as the bundle is written)
    const name = /^metadata:\n(?:[ \t]+.*\n)*? {2}name:\s*(\S+)/m.exec(doc)?.[1];
    const group = /^spec:\n(?:[ \t]+.*\n)*? {2}group:\s*(\S+)/m.exec(doc)?.[1];
    const plural = /^ {2}names:\n(?: {4}.*\n)*? {4}plural:\s*(\S+)/m.exec(doc)?.[1];
    if (!name || !group || !plural) throw new ClusterError(`a CRD document without metadata.name/spec.group/plural`);
    out.push({ name, group, plural, yaml: doc.trim() + '\n' });
  }
  return out;
}

/**
 * Server-side applies every CRD of the bundle (client-side apply cannot: the bundle's objects exceed the
 * last-applied annotation's size limit), a few requests at a time.
 */
export async function applyCrds(
  api: BootstrapApi,
  file: string,
  opts: { jsonCache?: string } = {},
): Promise<CrdDocument[]> {
  const crds = opts.jsonCache ? loadCrds(file, opts.jsonCache) : crdDocuments(readFileSync(file, 'utf8'));
  let next = 0;
  const worker = async () => {
    while (next < crds.length) {
      const crd = crds[next++] as CrdDocument;
      const res = await api.request(
        'PATCH',
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.name}?fieldManager=${CLUSTER_FIELD_MANAGER}&force=true`,
        crd.json ?? crd.yaml,
        'application/apply-patch+yaml',
        60_000,
      );
      if (res.status >= 300) {
        throw new ClusterError(`applying CRD ${crd.name} from ${file}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return crds;
}

/** Every CRD's resource is served (discovery lists a CRD's group/version only once it is Established). */
export async function crdsServed(api: BootstrapApi, crds: CrdDocument[], version = 'v1alpha1'): Promise<boolean> {
  const groups = new Map<string, Set<string>>();
  for (const c of crds) groups.set(c.group, (groups.get(c.group) ?? new Set()).add(c.plural));
  for (const [group, plurals] of groups) {
    let res;
    try {
      res = await api.request('GET', `/apis/${group}/${version}`, undefined, undefined, 3000);
    } catch {
      return false;
    }
    if (res.status !== 200) return false;
    const served = new Set(res.json<{ resources: { name: string }[] }>().resources.map((r) => r.name));
    for (const p of plurals) if (!served.has(p)) return false;
  }
  return true;
}

/**
 * The bundle's CRDs with their JSON form, kept in `jsonCache` (rewritten when the bundle changes): converting
 * the 3 MB of YAML takes over a second, sending JSON saves the API server about as much per start.
 */
export function loadCrds(file: string, jsonCache: string): CrdDocument[] {
  const st = statSync(file);
  const stamp = `${st.size}:${st.mtimeMs}`;
  try {
    const cached = JSON.parse(readFileSync(jsonCache, 'utf8')) as { stamp: string; crds: CrdDocument[] };
    if (cached.stamp === stamp) return cached.crds;
  } catch {
    // none yet, or unreadable: convert
  }
  const crds = crdDocuments(readFileSync(file, 'utf8')).map((c) => ({ ...c, json: JSON.stringify(parse(c.yaml)) }));
  try {
    writeFileSync(`${jsonCache}.tmp`, JSON.stringify({ stamp, crds }));
    renameSync(`${jsonCache}.tmp`, jsonCache);
  } catch {
    // not writable: convert again next time
  }
  return crds;
}
