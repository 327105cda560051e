import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../local/paths';
import { ClusterError } from './errors';

/** What infra/kube-local/build.sh puts in its bin dir. */
export const CLUSTER_BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'kwok',
  'kube-state-metrics',
  'chaos-controller-manager',
] as const;
export type ClusterBinary = (typeof CLUSTER_BINARIES)[number];
/** The Chaos Mesh CRD bundle of the same module as the controller (build.sh copies manifests/crd.yaml). */
export const CHAOS_MESH_CRD_FILE = 'chaos-mesh-crd.yaml';
/** Its documents as JSON, written beside it by the first cluster start (infra/kube-local/crds.ts loadCrds). */
export const CHAOS_MESH_CRD_JSON = 'chaos-mesh-crd.json';

export function buildScriptPath(): string {
  return path.join(repoRoot(), 'infra', 'kube-local', 'build.sh');
}

/**
 * The bin dir: $FAULTLINE_KUBE_BIN, else what build.sh names (~/.cache/faultline/kube/<versions>/bin; asking the
 * script keeps the pinned versions in one place). It may not hold the binaries yet: see requireBinaries.
 */
export function defaultBinDir(): string {
  if (process.env.FAULTLINE_KUBE_BIN) return path.resolve(process.env.FAULTLINE_KUBE_BIN);
  try {
    return execFileSync('bash', [buildScriptPath(), '--print-bin'], { encoding: 'utf8' }).trim();
  } catch (err) {
    throw new ClusterError(
      `cannot find the local Kubernetes binaries' directory (${buildScriptPath()} --print-bin failed: ${(err as Error).message}); set FAULTLINE_KUBE_BIN`,
      'missing',
    );
  }
}

/** Throws a ClusterError that says how to build them unless every binary and the CRD bundle are in binDir. */
export function requireBinaries(binDir: string): void {
  const missing: string[] = [];
  for (const b of CLUSTER_BINARIES) {
    try {
      accessSync(path.join(binDir, b), constants.X_OK);
    } catch {
      missing.push(b);
    }
  }
  if (!existsSync(path.join(binDir, CHAOS_MESH_CRD_FILE))) missing.push(CHAOS_MESH_CRD_FILE);
  if (missing.length > 0) {
    throw new ClusterError(
      `the local Kubernetes control plane is not built: ${missing.join(', ')} missing in ${binDir} — ` +
        'run `bash infra/kube-local/build.sh` (once per machine, ~16 min on 2 cores; `bash infra/setup.sh` runs it too)',
      'missing',
    );
  }
}
