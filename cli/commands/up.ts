import type { Command } from 'commander';
import { join } from 'node:path';
import { faultlineHome } from '../../infra/home';
import { startDevServer, stopDevServer, type DevServerHandle } from '../../infra/temporal/dev-server';
import { formatStatus, statusReport } from '../../infra/status';
import { startWorker, stopWorker, type WorkerKind } from '../../infra/workers';
import { CliError, EXIT } from '../errors';
import { ensureLocalStackForCli, stopLocalStackForCli } from './local-stack';

export interface UpOptions {
  home?: string;
  temporalPort?: number;
  uiPort?: number;
  headless?: boolean;
  workers?: boolean;
  stack?: boolean;
}

export interface UpResult {
  home: string;
  temporal: DevServerHandle;
  workers: { kind: WorkerKind; pid: number; logPath: string }[];
  stack?: Record<string, unknown>;
}

/** `faultline up`: Temporal dev server (persistent SQLite), both workers, and the local target's stack. */
export async function up(opts: UpOptions = {}): Promise<UpResult> {
  const home = opts.home ?? faultlineHome();
  const port = opts.temporalPort ?? Number(process.env.FAULTLINE_TEMPORAL_PORT ?? 7233);
  let temporal: DevServerHandle;
  try {
    temporal = await startDevServer({
      dir: join(home, 'temporal'),
      port,
      uiPort: opts.uiPort,
      headless: opts.headless,
    });
  } catch (err) {
    throw new CliError(`temporal: ${(err as Error).message}`, EXIT.unavailable);
  }
  const workers =
    opts.workers === false
      ? []
      : (['main', 'training'] as const).map((kind) => startWorker(kind, { home, address: temporal.address }));
  let stack: Record<string, unknown> | undefined;
  if (opts.stack !== false) {
    stack = await ensureLocalStackForCli(home);
  }
  return { home, temporal, workers, stack };
}

export async function down(opts: { home?: string; keepTemporal?: boolean } = {}): Promise<string[]> {
  const home = opts.home ?? faultlineHome();
  const stopped: string[] = [];
  for (const kind of ['main', 'training'] as const) if (await stopWorker(kind, home)) stopped.push(`${kind} worker`);
  stopped.push(...(await stopLocalStackForCli(home)));
  if (!opts.keepTemporal && (await stopDevServer(join(home, 'temporal')))) stopped.push('temporal dev server');
  return stopped;
}

export function registerUpCommands(program: Command): void {
  program
    .command('up')
    .description('start the local Temporal dev server, the workers and the local target stack')
    .option('--temporal-port <port>', 'Temporal gRPC port', (v) => Number(v))
    .option('--ui-port <port>', 'Temporal UI port (default: gRPC port + 1000)', (v) => Number(v))
    .option('--headless', 'no Temporal web UI')
    .option('--no-workers', 'do not start the workers')
    .option('--no-stack', 'do not start the local boutique and metrics stack')
    .action(async (opts: UpOptions) => {
      const r = await up(opts);
      console.log(`temporal ${r.temporal.reused ? 'already running' : 'started'} at ${r.temporal.address}`);
      if (r.temporal.uiUrl)
        console.log(`  UI:       ${r.temporal.uiUrl}  (Start Workflow → type "campaign", queue "faultline")`);
      console.log(`  database: ${r.temporal.dbFile}`);
      for (const w of r.workers) console.log(`${w.kind} worker pid ${w.pid}  (log ${w.logPath})`);
      if (r.stack) {
        for (const [k, v] of Object.entries(r.stack)) {
          if (k === 'parts' && Array.isArray(v)) {
            for (const part of v as { name: string; pid?: number; port?: number; ready: boolean }[]) {
              console.log(
                `  ${part.name.padEnd(14)} ${part.ready ? 'ready' : 'NOT READY'}  pid ${part.pid ?? '-'}  port ${part.port ?? '-'}`,
              );
            }
          } else if (k !== 'home') console.log(`${k}: ${String(v)}`);
        }
      }
    });
  program
    .command('down')
    .description('stop the workers, the local stack and the Temporal dev server (data is kept)')
    .option('--keep-temporal', 'leave the Temporal dev server running')
    .action(async (opts: { keepTemporal?: boolean }) => {
      const stopped = await down(opts);
      console.log(stopped.length ? `stopped: ${stopped.join(', ')}` : 'nothing was running');
    });
  program
    .command('ps')
    .description('every part of the stack `faultline up` started: state, pid and address')
    .option('--json', 'the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const report = await statusReport(faultlineHome());
      console.log(opts.json ? JSON.stringify(report, null, 1) : formatStatus(report));
    });
}
