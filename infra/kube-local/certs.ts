import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ClusterError } from './errors';

const run = promisify(execFile);

/** Files of the cluster's PKI, all under <dir>/pki (EC P-256 keys, made with openssl). */
export interface ClusterPki {
  dir: string;
  caCert: string;
  caKey: string;
  /** kube-apiserver's serving certificate (127.0.0.1, localhost, kubernetes.default.svc…, 10.96.0.1). */
  apiserverCert: string;
  apiserverKey: string;
  /** Admin client certificate: O=system:masters. */
  adminCert: string;
  adminKey: string;
  /** Service-account token signing key pair (TokenRequest, the controller-manager's token controller). */
  saKey: string;
  saPub: string;
  /** Serving certificate for loopback servers: kwok's "kubelet" endpoint, Chaos Mesh's webhook server. */
  servingCert: string;
  servingKey: string;
  /** CERTS_DIR of Chaos Mesh's controller manager (tls.crt, tls.key). */
  webhookDir: string;
}

export function pkiPaths(clusterDir: string): ClusterPki {
  const dir = path.join(clusterDir, 'pki');
  const f = (n: string) => path.join(dir, n);
  return {
    dir,
    caCert: f('ca.crt'),
    caKey: f('ca.key'),
    apiserverCert: f('apiserver.crt'),
    apiserverKey: f('apiserver.key'),
    adminCert: f('admin.crt'),
    adminKey: f('admin.key'),
    saKey: f('sa.key'),
    saPub: f('sa.pub'),
    servingCert: f('serving.crt'),
    servingKey: f('serving.key'),
    webhookDir: f('webhook'),
  };
}

const OPENSSL_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
`;

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new ClusterError('openssl is needed to make the cluster certificates (apt-get install openssl)', 'missing');
    }
    throw new ClusterError(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`, 'failed', { cause: err });
  }
}

const newKey = (file: string) =>
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);

async function leaf(
  pki: ClusterPki,
  cnf: string,
  out: { cert: string; key: string },
  subject: string,
  usage: 'server' | 'client' | 'both',
  sans: string[] = [],
): Promise<void> {
  await newKey(out.key);
  const csr = `${out.cert}.csr`;
  const ext = `${out.cert}.ext`;
  const eku = usage === 'server' ? 'serverAuth' : usage === 'client' ? 'clientAuth' : 'serverAuth,clientAuth';
  writeFileSync(
    ext,
    [
      '[v3]',
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage = ${eku}`,
      ...(sans.length ? [`subjectAltName = ${sans.join(',')}`] : []),
      '',
    ].join('\n'),
  );
  await openssl(['req', '-new', '-config', cnf, '-key', out.key, '-subj', subject, '-out', csr]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    pki.caCert,
    '-CAkey',
    pki.caKey,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-days',
    '3650',
    '-extfile',
    ext,
    '-extensions',
    'v3',
    '-out',
    out.cert,
  ]);
}

/**
 * Makes the cluster's CA and certificates unless they are there already (a restarted cluster keeps them, so
 * kubeconfigs written earlier stay valid). Returns their paths.
 */
export async function ensurePki(clusterDir: string): Promise<ClusterPki> {
  const pki = pkiPaths(clusterDir);
  const tls = { cert: path.join(pki.webhookDir, 'tls.crt'), key: path.join(pki.webhookDir, 'tls.key') };
  const all = [
    pki.caCert,
    pki.caKey,
    pki.apiserverCert,
    pki.apiserverKey,
    pki.adminCert,
    pki.adminKey,
    pki.saKey,
    pki.saPub,
    pki.servingCert,
    pki.servingKey,
    tls.cert,
    tls.key,
  ];
  if (all.every((f) => existsSync(f))) return pki;
  mkdirSync(pki.webhookDir, { recursive: true, mode: 0o700 });
  const cnf = path.join(pki.dir, 'openssl.cnf');
  writeFileSync(cnf, OPENSSL_CONFIG);
  await newKey(pki.caKey);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-config',
    cnf,
    '-extensions',
    'ca',
    '-key',
    pki.caKey,
    '-subj',
    '/CN=faultline-local-ca',
    '-days',
    '3650',
    '-out',
    pki.caCert,
  ]);
  const loopback = ['IP:127.0.0.1', 'DNS:localhost'];
  await Promise.all([
    leaf(pki, cnf, { cert: pki.apiserverCert, key: pki.apiserverKey }, '/CN=kube-apiserver', 'server', [
      ...loopback,
      'IP:10.96.0.1',
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
    ]),
    leaf(pki, cnf, { cert: pki.adminCert, key: pki.adminKey }, '/O=system:masters/CN=faultline-admin', 'client'),
    leaf(pki, cnf, { cert: pki.servingCert, key: pki.servingKey }, '/CN=faultline-local', 'server', loopback),
    newKey(pki.saKey).then(() => openssl(['pkey', '-in', pki.saKey, '-pubout', '-out', pki.saPub])),
  ]);
  // Chaos Mesh's webhook server wants CERTS_DIR/tls.crt + tls.key (nothing calls it: no webhook is registered).
  await leaf(pki, cnf, tls, '/CN=chaos-mesh-webhook', 'server', loopback);
  return pki;
}
