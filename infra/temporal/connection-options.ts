import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';

/** A Temporal connection setting that cannot work, with the variable to change in its message. */
export class TemporalConfigError extends Error {
  override name = 'TemporalConfigError';
}

/**
 * Where and how workers and the CLI reach Temporal: one object for both, read from the environment with
 * the Temporal CLI's own variable names, so a shell set up for `temporal` works for faultline unchanged.
 */
export interface TemporalEnv {
  address: string;
  namespace: string;
  /** API key (Temporal Cloud); turns TLS on. */
  apiKey?: string;
  /** undefined = plaintext; {} = TLS with the system's roots; otherwise mTLS and/or a private CA. */
  tls?: TLSConfig;
  /** One line for logs and errors: "mTLS (client cert /x.pem, CA /ca.pem)", never key material. */
  security: string;
}

/** The variables read, each with what it holds (also the help text of `faultline --help`). */
export const TEMPORAL_ENV_HELP: Record<string, string> = {
  TEMPORAL_ADDRESS: 'host:port of the Temporal frontend (default 127.0.0.1:7233)',
  TEMPORAL_NAMESPACE: 'namespace (default "default")',
  TEMPORAL_API_KEY: 'API key (Temporal Cloud); implies TLS',
  TEMPORAL_TLS: '"true" for TLS with the system roots; "false" forbids TLS settings',
  TEMPORAL_TLS_CERT: 'client certificate (PEM file) for mTLS; needs TEMPORAL_TLS_KEY',
  TEMPORAL_TLS_KEY: 'client private key (PEM file) for mTLS; needs TEMPORAL_TLS_CERT',
  TEMPORAL_TLS_CA: 'CA certificate (PEM file) that signed the server certificate, for a private CA',
  TEMPORAL_TLS_SERVER_NAME:
    'name to verify the server certificate against (SNI), when it differs from the address host',
};

type Env = Record<string, string | undefined>;

function readPem(env: Env, name: string): Buffer {
  const path = env[name] as string;
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new TemporalConfigError(`${name}=${path}: cannot read the file (${code}); point ${name} at a PEM file`);
  }
  if (!data.includes('-----BEGIN ')) {
    throw new TemporalConfigError(`${name}=${path}: not a PEM file (no "-----BEGIN" line); ${TEMPORAL_ENV_HELP[name]}`);
  }
  return data;
}

/** Reads and checks the connection settings; files are read here, so a bad path fails before any dial. */
export function temporalEnv(env: Env = process.env): TemporalEnv {
  const set = (name: string): boolean => (env[name] ?? '') !== '';
  const tlsFlag = env.TEMPORAL_TLS?.trim().toLowerCase();
  if (tlsFlag !== undefined && tlsFlag !== '' && tlsFlag !== 'true' && tlsFlag !== 'false') {
    throw new TemporalConfigError(`TEMPORAL_TLS=${env.TEMPORAL_TLS}: use "true" or "false"`);
  }
  if (set('TEMPORAL_TLS_CERT') !== set('TEMPORAL_TLS_KEY')) {
    const [has, lacks] = set('TEMPORAL_TLS_CERT')
      ? ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY']
      : ['TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CERT'];
    throw new TemporalConfigError(
      `${has} is set but ${lacks} is not: mTLS needs both the client certificate and its key`,
    );
  }
  const tlsSettings = ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_CA', 'TEMPORAL_TLS_SERVER_NAME'].filter(set);
  const apiKey = env.TEMPORAL_API_KEY || undefined;
  if (tlsFlag === 'false' && (tlsSettings.length > 0 || apiKey)) {
    throw new TemporalConfigError(
      `TEMPORAL_TLS=false contradicts ${[...tlsSettings, ...(apiKey ? ['TEMPORAL_API_KEY'] : [])].join(', ')}: unset one or the other`,
    );
  }
  let tls: TLSConfig | undefined;
  const parts: string[] = [];
  if (tlsFlag === 'true' || tlsSettings.length > 0 || apiKey) {
    tls = {};
    if (set('TEMPORAL_TLS_CERT')) {
      tls.clientCertPair = { crt: readPem(env, 'TEMPORAL_TLS_CERT'), key: readPem(env, 'TEMPORAL_TLS_KEY') };
      parts.push(`client cert ${env.TEMPORAL_TLS_CERT}`);
    }
    if (set('TEMPORAL_TLS_CA')) {
      tls.serverRootCACertificate = readPem(env, 'TEMPORAL_TLS_CA');
      parts.push(`CA ${env.TEMPORAL_TLS_CA}`);
    }
    if (set('TEMPORAL_TLS_SERVER_NAME')) {
      tls.serverNameOverride = env.TEMPORAL_TLS_SERVER_NAME;
      parts.push(`server name ${env.TEMPORAL_TLS_SERVER_NAME}`);
    }
    if (apiKey) parts.push('API key');
  }
  const kind = tls?.clientCertPair ? 'mTLS' : tls ? 'TLS' : 'plaintext';
  return {
    address: env.TEMPORAL_ADDRESS || '127.0.0.1:7233',
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    apiKey,
    tls,
    security: parts.length > 0 ? `${kind} (${parts.join(', ')})` : kind,
  };
}
