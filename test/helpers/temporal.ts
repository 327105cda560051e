import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { startDevServer, stopDevServer, type DevServerHandle } from '../../infra/temporal/dev-server';
import { freePort } from './ports';

/**
 * One real Temporal dev server for the whole mocha run, started on first use (suites that do not need
 * Temporal never pay for it) and stopped by the root hook in test/hooks.ts.
 */
export interface TestTemporal {
  server: DevServerHandle;
  dir: string;
  address: string;
  namespace: string;
  port: number;
  connection: Connection;
  client: Client;
  nativeConnection: NativeConnection;
}

let pending: Promise<TestTemporal> | undefined;
let current: TestTemporal | undefined;
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

export function getTestTemporal(): Promise<TestTemporal> {
  pending ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faultline-temporal-'));
    const port = await freePort();
    const server = await startDevServer({ dir, port, headless: true });
    const connection = await Connection.connect({ address: server.address });
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    current = {
      server,
      dir,
      address: server.address,
      namespace: server.namespace,
      port,
      connection,
      client: new Client({ connection, namespace: server.namespace }),
      nativeConnection,
    };
    return current;
  })();
  return pending;
}

/** Restarts the shared server on the same SQLite file (durability tests); connections reconnect by themselves. */
export async function restartTestTemporal(opts: { downMs?: number } = {}): Promise<void> {
  if (!current) throw new Error('test Temporal server not started');
  await stopDevServer(current.dir, { signal: 'SIGKILL' });
  if (opts.downMs) await new Promise((r) => setTimeout(r, opts.downMs));
  current.server = await startDevServer({ dir: current.dir, port: current.port, headless: true });
}

/** The workflows bundled once per run (webpack is slow on 2 cores). */
export function getWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger });
  return bundle;
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (msg: string) => console.error(msg),
};

export async function stopTestTemporal(): Promise<void> {
  if (!current) return;
  const c = current;
  current = undefined;
  pending = undefined;
  await c.nativeConnection.close().catch(() => undefined);
  await c.connection.close().catch(() => undefined);
  await stopDevServer(c.dir);
  rmSync(c.dir, { recursive: true, force: true, maxRetries: 5 });
}

let seq = 0;
/** Unique workflow / task-queue names per test. */
export function uniqueId(prefix: string): string {
  seq += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${seq}`;
}
