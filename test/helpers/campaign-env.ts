import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureStack, stopStack } from '../../infra/local/stack';
import { PORT_SPAN } from '../../infra/local/ports';
import type { LocalTargetConfig } from '../../schemas/target';
import { localTargetSchema } from '../../schemas/target';
import { freePort, freePortRange } from './ports';
import { getTestTemporal, uniqueId, type TestTemporal } from './temporal';

type WorkerKind = 'main' | 'training';

/**
 * A whole local faultline for end-to-end tests: the shared test Temporal server, the real local stack
 * (Redis, supervisor + boutique, node-exporter, Prometheus) on free ports in its own FAULTLINE_HOME, and
 * the two real worker processes (`node lib/workers/*.js`), which tests may SIGKILL and restart.
 */
export class CampaignEnv {
  readonly workers = new Map<WorkerKind, ChildProcess>();
  private constructor(
    readonly t: TestTemporal,
    readonly home: string,
    readonly taskQueue: string,
    readonly target: LocalTargetConfig,
  ) {}

  /** `stack: false`: workers only (a campaign whose target is elsewhere, e.g. the test Kubernetes cluster). */
  static async start(opts: { scrapeInterval?: string; stack?: boolean } = {}): Promise<CampaignEnv> {
    const t = await getTestTemporal();
    const home = mkdtempSync(join(tmpdir(), 'faultline-e2e-'));
    const basePort = await freePortRange(PORT_SPAN);
    const target = localTargetSchema.parse({
      type: 'local',
      basePort,
      prometheus: { port: await freePort(), scrapeInterval: opts.scrapeInterval ?? '1s' },
      nodeExporterPort: await freePort(),
      supervisorPort: await freePort(),
      redisPort: await freePort(),
    });
    const env = new CampaignEnv(t, home, uniqueId('e2e'), target);
    if (opts.stack !== false) await ensureStack({ home, target });
    env.startWorker('main');
    env.startWorker('training');
    return env;
  }

  startWorker(kind: WorkerKind): ChildProcess {
    const log = openSync(join(this.home, `${kind}-worker.log`), 'a');
    const child = spawn(process.execPath, [join(__dirname, '..', '..', 'workers', `${kind}.js`)], {
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: this.t.address,
        FAULTLINE_HOME: this.home,
        FAULTLINE_TASK_QUEUE: this.taskQueue,
      },
    });
    this.workers.set(kind, child);
    return child;
  }

  /** SIGKILL, no goodbye: the server only learns of it from missed heartbeats. */
  async killWorker(kind: WorkerKind): Promise<void> {
    const child = this.workers.get(kind);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    for (const kind of ['main', 'training'] as const) {
      const child = this.workers.get(kind);
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
    await stopStack({ home: this.home });
  }
}
