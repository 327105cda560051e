import { createServer, type Server } from 'node:http';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Supervisor } from '../infra/local/supervisor/supervisor';
import { normalizeConfig, type AppSpec } from '../infra/local/supervisor/config';
import { freePort, waitUntil } from './helpers/ports';
import { SupervisorHttp } from '../activities/chaos/supervisor-http';

/** A tiny HTTP "service" (the pods of the chaos tests): answers every path with a one-line Prometheus exposition. */
const POD_SCRIPT =
  "require('http').createServer((q,s)=>{s.setHeader('content-type','text/plain');s.end('test_pod_up 1\\n')}).listen(Number(process.env.PORT),'127.0.0.1')";

export interface TestSupervisor {
  url: string;
  client: SupervisorHttp;
  /** app → public (proxy) URL */
  serviceUrl: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * The real local supervisor (infra/local/supervisor) in-process, with a few tiny HTTP apps instead of the whole
 * boutique: the chaos tests exercise the real kill / hold / proxy-fault paths at a fraction of the CPU.
 */
export async function startTestSupervisor(
  apps: { app: string; replicas: number }[],
  opts: { ownProcess?: boolean } = {},
): Promise<TestSupervisor> {
  const specs: AppSpec[] = [];
  const serviceUrl: Record<string, string> = {};
  for (const a of apps) {
    const publicPort = await freePort();
    const podPorts = [];
    for (let i = 0; i < a.replicas + 1; i++) podPorts.push({ port: await freePort(), metricsPort: await freePort() });
    serviceUrl[a.app] = `http://127.0.0.1:${publicPort}`;
    specs.push({
      app: a.app,
      replicas: a.replicas,
      protocol: 'http',
      publicPort,
      podPorts,
      metricsOn: 'none',
      command: process.execPath,
      args: ['-e', POD_SCRIPT],
      env: {},
      healthPath: '/',
    });
  }
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'faultline-chaos-sup-'));
  const config = {
    port,
    dataDir,
    apps: specs,
    backoff: { baseMs: 200, maxMs: 1000, resetAfterMs: 5000 },
    readiness: { periodMs: 200, timeoutMs: 500, failureThreshold: 1 },
  };
  const url = `http://127.0.0.1:${port}`;
  const client = new SupervisorHttp(url);
  let stop: () => Promise<void>;
  if (opts.ownProcess) {
    // as in a real stack: the supervisor's event loop is not the worker's
    const file = join(dataDir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    const child = spawn(
      process.execPath,
      [join(__dirname, '..', 'infra', 'local', 'supervisor', 'main.js'), '--config', file],
      { stdio: 'ignore' },
    );
    await waitUntil(() => client.listPods({}).then(() => true), 30_000, 'supervisor API');
    stop = async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    };
  } else {
    const supervisor = new Supervisor(normalizeConfig(config));
    await supervisor.start();
    stop = () => supervisor.stop();
  }
  await allReady(client, 30_000);
  const stopAndClean = async (): Promise<void> => {
    await stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, client, serviceUrl, stop: stopAndClean };
}

/** Every pod of every app ready (the boutique is "back"). */
export async function allReady(client: SupervisorHttp, timeoutMs: number): Promise<void> {
  await waitUntil(
    async () => {
      const pods = await client.listPods({});
      return pods.length > 0 && pods.every((p) => p.ready);
    },
    timeoutMs,
    'every pod ready',
  );
}

/** A stand-in Prometheus answering /api/v1/query with a value the test controls (for SLO abort tests). */
export async function startFakePrometheus(): Promise<{
  url: string;
  set(v: number): void;
  queries: string[];
  close(): Promise<void>;
}> {
  let value = 0;
  const queries: string[] = [];
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    queries.push(u.searchParams.get('query') ?? '');
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: {}, value: [Date.now() / 1000, String(value)] }] },
      }),
    );
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${port}`,
    set: (v) => {
      value = v;
    },
    queries,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
