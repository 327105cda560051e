import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { NativeConnection } from '@temporalio/worker';
import { connectClient } from '../cli/connect';
import { CliError, EXIT } from '../cli/errors';
import { TemporalConfigError, temporalEnv } from '../infra/temporal/connection-options';
import { freePort } from './helpers/ports';
import { getTestTemporal } from './helpers/temporal';

/** A CA, a server certificate for localhost/127.0.0.1 and a client certificate it signed, plus a stranger's. */
function makeCerts(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  for (const name of ['ca', 'other-ca']) {
    ssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      ...ca,
    );
  }
  const leaf = (name: string, signer: string, ext: string) => {
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${signer}.pem`,
      '-CAkey',
      `${signer}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  };
  leaf('server', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('faultline-worker', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf('stranger', 'other-ca', 'extendedKeyUsage=clientAuth\n');
}

describe('Temporal over mTLS (TEMPORAL_TLS_* variables, the Temporal CLI names)', function () {
  this.timeout(60_000);
  let dir: string;
  let proxy: tls.Server;
  let address: string;
  let namespace: string;
  const peers: string[] = [];
  const saved = { ...process.env };

  before(async () => {
    const t = await getTestTemporal();
    namespace = t.namespace;
    dir = mkdtempSync(path.join(tmpdir(), 'faultline-tls-'));
    makeCerts(dir);
    // A TLS front for the dev server that demands a client certificate from our CA (as a secured cluster's
    // frontend or Temporal Cloud does) and forwards the HTTP/2 stream to the plaintext dev server.
    proxy = tls.createServer(
      {
        key: readFileSync(path.join(dir, 'server.key')),
        cert: readFileSync(path.join(dir, 'server.pem')),
        ca: readFileSync(path.join(dir, 'ca.pem')),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ['h2'],
      },
      (socket) => {
        peers.push(String(socket.getPeerCertificate().subject?.CN));
        const upstream = net.connect(t.port, '127.0.0.1');
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      },
    );
    proxy.on('tlsClientError', () => undefined); // refused handshakes are what two tests expect
    const port = await freePort();
    await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', () => r()));
    address = `127.0.0.1:${port}`;
  });

  afterEach(() => {
    for (const k of Object.keys(process.env)) if (k.startsWith('TEMPORAL_')) delete process.env[k];
    for (const [k, v] of Object.entries(saved)) if (k.startsWith('TEMPORAL_')) process.env[k] = v;
  });

  after(async () => {
    await new Promise<void>((r) => proxy.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  function mtlsEnv(client = 'faultline-worker'): Record<string, string> {
    return {
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TLS_CERT: path.join(dir, `${client}.pem`),
      TEMPORAL_TLS_KEY: path.join(dir, `${client}.key`),
      TEMPORAL_TLS_CA: path.join(dir, 'ca.pem'),
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
    };
  }

  it('reaches the server with a client certificate, from the CLI client and a worker connection', async () => {
    Object.assign(process.env, mtlsEnv());
    peers.length = 0;
    const { client, close } = await connectClient();
    const ns = await client.workflowService.describeNamespace({ namespace });
    assert.equal(ns.namespaceInfo?.name, namespace);
    await close();
    // the worker side: the Rust core's own TLS client (what Worker.create polls through)
    const env = temporalEnv();
    assert.equal(env.security.split(' ')[0], 'mTLS');
    const native = await NativeConnection.connect({ address: env.address, tls: env.tls, apiKey: env.apiKey });
    try {
      const res = await native.workflowService.describeNamespace({ namespace });
      assert.equal(res.namespaceInfo?.name, namespace);
    } finally {
      await native.close();
    }
    assert.ok(peers.length >= 2 && peers.every((cn) => cn === 'faultline-worker'), `peers: ${peers.join(', ')}`);
  });

  it('is refused without a client certificate or with one from another CA, and says what it tried', async () => {
    const { TEMPORAL_TLS_CERT: _c, TEMPORAL_TLS_KEY: _k, ...serverOnly } = mtlsEnv();
    for (const env of [serverOnly, mtlsEnv('stranger')]) {
      for (const k of Object.keys(process.env)) if (k.startsWith('TEMPORAL_')) delete process.env[k];
      Object.assign(process.env, env);
      const err = await connectClient().then(
        () => assert.fail('connected without an accepted client certificate'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof CliError, String(err));
      assert.equal(err.code, EXIT.unavailable);
      assert.match(err.message, new RegExp(`cannot reach Temporal at ${address.replace(/\./g, '\\.')}`));
      assert.match(err.message, /(m?TLS) \(.*CA .*ca\.pem, server name localhost\)/);
      assert.match(err.message, /check the certificate files/);
    }
  });

  it('names the variable to fix for a half or unreadable setting, in the CLI and in a worker process', async () => {
    const env = mtlsEnv();
    assert.throws(() => temporalEnv({ ...env, TEMPORAL_TLS_KEY: '' }), {
      name: 'TemporalConfigError',
      message: /TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not/,
    });
    assert.throws(() => temporalEnv({ ...env, TEMPORAL_TLS_CA: path.join(dir, 'missing.pem') }), {
      message: /TEMPORAL_TLS_CA=.*missing\.pem: cannot read the file \(ENOENT\)/,
    });
    assert.throws(() => temporalEnv({ ...env, TEMPORAL_TLS_CA: path.join(dir, 'server.ext') }), {
      message: /TEMPORAL_TLS_CA=.*: not a PEM file/,
    });
    assert.throws(() => temporalEnv({ ...env, TEMPORAL_TLS: 'false' }), {
      message: /TEMPORAL_TLS=false contradicts TEMPORAL_TLS_CERT, TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME/,
    });
    assert.throws(() => temporalEnv({ TEMPORAL_TLS: 'yes' }), TemporalConfigError);
    assert.equal(temporalEnv({}).tls, undefined);
    assert.deepEqual(temporalEnv({ TEMPORAL_TLS: 'true' }).tls, {});

    Object.assign(process.env, { ...env, TEMPORAL_TLS_KEY: '' });
    await assert.rejects(connectClient(), (e: unknown) => e instanceof CliError && e.code === EXIT.usage);

    // a worker process stops before dialling, exit 2, with the message and no stack
    const worker = spawn(process.execPath, [path.join(__dirname, '..', 'workers', 'main.js')], {
      env: { ...saved, ...env, TEMPORAL_TLS_KEY: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    worker.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    const [code] = (await once(worker, 'exit')) as [number | null];
    assert.equal(code, 2, stderr);
    assert.match(stderr, /^\[worker\] TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not/);
    assert.doesNotMatch(stderr, /at .*\.js:\d+/);
  });
});
