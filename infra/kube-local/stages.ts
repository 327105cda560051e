import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../local/paths';

/** The kwok Stages faultline owns (infra/kube-local/stages/*.yaml): node start-up + heartbeat, pod life cycle. */
export function stagesDir(): string {
  return path.join(repoRoot(), 'infra', 'kube-local', 'stages');
}

/** Every stage file joined into one multi-document kwok --config file; returns its content. */
export function writeKwokConfig(file: string, dir = stagesDir()): string {
  const docs = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => readFileSync(path.join(dir, f), 'utf8').trim());
  const text = docs.join('\n---\n') + '\n';
  writeFileSync(file, text);
  return text;
}

/** Annotation kwok's --manage-nodes-with-annotation-selector picks the simulated node by. */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

/**
 * The one simulated node: managed by kwok (annotation), no taint (Online Boutique's pods tolerate none); kwok's
 * node-initialize stage gives it large allocatable resources and makes it Ready.
 */
export function nodeObject(name: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
      },
    },
    spec: {},
  };
}
