import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

export const CLUSTER_NAME = 'faultline-local';

/** A kubeconfig with the certificates embedded (it keeps working when copied elsewhere). Written 0600. */
export function writeKubeconfig(
  file: string,
  opts: { server: string; caCert: string; clientCert: string; clientKey: string; user?: string; namespace?: string },
): void {
  const b64 = (f: string) => readFileSync(f).toString('base64');
  const user = opts.user ?? 'faultline-admin';
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: CLUSTER_NAME, cluster: { server: opts.server, 'certificate-authority-data': b64(opts.caCert) } },
    ],
    users: [
      { name: user, user: { 'client-certificate-data': b64(opts.clientCert), 'client-key-data': b64(opts.clientKey) } },
    ],
    contexts: [
      {
        name: CLUSTER_NAME,
        context: { cluster: CLUSTER_NAME, user, ...(opts.namespace ? { namespace: opts.namespace } : {}) },
      },
    ],
    'current-context': CLUSTER_NAME,
    preferences: {},
  };
  writeFileSync(file, stringify(cfg), { mode: 0o600 });
}
