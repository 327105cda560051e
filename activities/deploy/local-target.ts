import type { LocalTargetConfig } from '../../schemas/target';
import { BOUTIQUE_SERVICES } from '../../schemas/target';
import { parseDuration } from '../../schemas/duration';
import { ensureStack, stopStack, type EnsureStackOptions, type StackInfo } from '../../infra/local/stack';
import { publicPort } from '../../infra/local/ports';
import { faultlineHome } from '../../infra/local/paths';
import { SupervisorClient } from '../../infra/local/supervisor/client';
import type { Target } from './target';
import type { PodInfo, TargetEndpoints } from './types';

export interface LocalTargetOptions {
  /** FAULTLINE_HOME; the shared stack lives in <home>/stack. */
  home?: string;
  /** Progress lines while starting (the deploy activity heartbeats them). */
  onProgress?: (message: string) => void;
  /** Passed through to ensureStack (binary overrides, supervisor back-off/readiness tuning). */
  stack?: Pick<EnsureStackOptions, 'binaries' | 'supervisor' | 'startTimeoutMs'>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The local Online Boutique stand-in: ensureStack (redis, supervisor + pods, node-exporter, Prometheus). */
export class LocalTarget implements Target {
  readonly kind = 'local' as const;
  readonly home: string;
  readonly supervisor: SupervisorClient;

  constructor(
    readonly config: LocalTargetConfig,
    readonly campaignId: string,
    private readonly opts: LocalTargetOptions = {},
  ) {
    this.home = opts.home ?? faultlineHome();
    this.supervisor = new SupervisorClient(`http://127.0.0.1:${config.supervisorPort}`);
  }

  endpoints(): TargetEndpoints {
    return {
      kind: 'local',
      frontendUrl: `http://127.0.0.1:${publicPort(this.config.basePort, 'frontend')}`,
      prometheusUrl: `http://127.0.0.1:${this.config.prometheus.port}`,
      supervisorUrl: `http://127.0.0.1:${this.config.supervisorPort}`,
    };
  }

  /** Starts (or finds) the stack, then waits until every pod is ready. Idempotent. */
  async deploy(signal?: AbortSignal): Promise<TargetEndpoints> {
    await this.ensure(signal);
    await this.waitReady(parseDuration(this.config.readinessTimeout), signal);
    return this.endpoints();
  }

  ensure(signal?: AbortSignal): Promise<StackInfo> {
    return ensureStack({
      ...this.opts.stack,
      home: this.home,
      target: this.config,
      signal,
      onProgress: this.opts.onProgress,
    });
  }

  /** Every service has its configured replicas ready and the frontend answers through its Service. */
  async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      const missing: string[] = [];
      try {
        const pods = await this.supervisor.listPods({}, signal);
        for (const svc of BOUTIQUE_SERVICES) {
          const want = this.config.replicas[svc] ?? 1;
          const ready = pods.filter((p) => p.labels.app === svc && p.ready).length;
          if (ready < want) {
            const waiting = pods.find((p) => p.labels.app === svc && !p.ready);
            missing.push(`${svc} ${ready}/${want} ready${waiting?.reason ? ` (${waiting.reason})` : ''}`);
          }
        }
        if (missing.length === 0) {
          const res = await fetch(`${this.endpoints().frontendUrl}/_healthz`, {
            signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(2000)]) : AbortSignal.timeout(2000),
          });
          await res.arrayBuffer();
          if (res.ok) return;
          missing.push(`frontend Service answers ${res.status}`);
        }
      } catch (err) {
        signal?.throwIfAborted();
        missing.push(`supervisor: ${(err as Error).message}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`local target not ready after ${timeoutMs} ms: ${missing.join('; ')}`);
      }
      this.opts.onProgress?.(`waiting for readiness: ${missing.join('; ')}`);
      await sleep(250);
    }
  }

  /** Stops the whole local stack (it holds nothing campaign-specific besides the Prometheus data). */
  async teardown(): Promise<void> {
    await stopStack({ home: this.home });
  }

  listPods(selector: Record<string, string>): Promise<PodInfo[]> {
    return this.supervisor.listPods(selector);
  }
}
