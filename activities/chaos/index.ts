import { Context } from '@temporalio/activity';
import { join, dirname } from 'node:path';
import { writeFileSync } from 'node:fs';
import type { TargetConfig } from '../../schemas/target';
import type { TargetEndpoints } from '../deploy/types';
import type { ChaosConfig } from '../../schemas/faults';
import { BatchEngine, removeAll } from './engine';
import {
  FaultLog,
  exportFaultLogArrow,
  exportFaultLogJsonl,
  grafanaAnnotations,
  readFaultLog,
  readFaultLogEvents,
} from './fault-log';
import { preflightOrRefuse } from './guard';
import { readHalt, writeFence } from './halt';
import { LocalInjector, type Injector } from './injector';
import { createKubernetesInjector } from './chaos-mesh';
import { faultLogPath } from './paths';
import type {
  BatchHeartbeat,
  ChaosPreflightResult,
  ExportFaultLogResult,
  InjectBatchInput,
  InjectBatchResult,
  RemoveAllFaultsInput,
  RemoveAllFaultsResult,
} from './types';

export type * from './types';
export { readFaultLog, readFaultLogEvents } from './fault-log';

export interface ChaosActivityDeps {
  /** faultline's data root; the halt marker and stress pid files live under FAULTLINE_HOME (see paths.ts). */
  home?: string;
  /** Builds the injector for a target (tests and other targets plug in here). Default: local supervisor / Chaos Mesh. */
  injectorFor?: (
    target: TargetConfig,
    endpoints: TargetEndpoints | undefined,
    campaignId: string,
  ) => Injector | Promise<Injector>;
}

export function defaultInjector(
  target: TargetConfig,
  endpoints: TargetEndpoints | undefined,
  campaignId: string,
): Injector {
  if (target.type === 'local') {
    const url = endpoints?.supervisorUrl ?? `http://127.0.0.1:${target.supervisorPort}`;
    return new LocalInjector(url);
  }
  return createKubernetesInjector(target, campaignId);
}

export interface ChaosPreflightInput {
  campaignId: string;
  dataDir: string;
  target: TargetConfig;
  endpoints: TargetEndpoints;
  chaos: ChaosConfig;
}

export interface ExportFaultLogInput {
  dataDir: string;
}

/** The chaos activities (see workflows/chaos-loop.ts); `removeAllFaults` is also the campaign's cleanup. */
export function createChaosActivities(deps: ChaosActivityDeps = {}) {
  const injectorFor = deps.injectorFor ?? defaultInjector;

  return {
    /** Opens the log with the campaign line; reports guard refusals and an active global halt. */

    async chaosPreflight(input: ChaosPreflightInput): Promise<ChaosPreflightResult> {
      const path = faultLogPath(input.dataDir);
      const log = FaultLog.open(path);
      try {
        if (!readFaultLogEvents(path).some((e) => e.ev === 'campaign')) {
          log.append({
            ev: 'campaign',
            ts: Date.now(),
            campaignId: input.campaignId,
            targetKind: input.target.type,
            ...(input.endpoints.supervisorUrl ? { supervisorUrl: input.endpoints.supervisorUrl } : {}),
            ...(input.target.type === 'kubernetes' ? { namespace: input.target.namespace } : {}),
          });
        }
      } finally {
        log.close();
      }
      const refusals = preflightOrRefuse(input.chaos.guard, input.chaos.faults);
      const halt = readHalt();
      return { faultLogPath: path, refusals, ...(halt ? { halted: halt } : {}) };
    },

    /** Injects a batch of planned faults at their planned times; heartbeats `{ next }` and resumes from it. */
    async injectFaultBatch(input: InjectBatchInput): Promise<InjectBatchResult> {
      const ctx = Context.current();
      const resume = ctx.info.heartbeatDetails as BatchHeartbeat | undefined;
      const injector = await injectorFor(input.target, input.endpoints, input.campaignId);
      const log = FaultLog.open(faultLogPath(input.dataDir));
      try {
        const engine = new BatchEngine(injector, log, input, {
          heartbeat: (d) => ctx.heartbeat(d),
          sleep: (ms) => ctx.sleep(ms),
          now: Date.now,
          resume,
        });
        return await engine.run();
      } finally {
        await log.flush().catch(() => undefined);
        log.close();
      }
    },

    /** Removes every fault of the campaign still active (fencing the loop's batches first). Idempotent. */
    async removeAllFaults(input: RemoveAllFaultsInput): Promise<RemoveAllFaultsResult> {
      writeFence(input.dataDir, input.fenceEpoch ?? Number.MAX_SAFE_INTEGER, input.reason ?? 'cleanup');
      let injector: Injector | undefined;
      try {
        injector = await injectorFor(input.target, input.endpoints, input.campaignId);
      } catch {
        injector = undefined; // removeAll still kills stress processes and reports the rest as unreachable
      }
      const path = faultLogPath(input.dataDir);
      const log = FaultLog.open(path);
      try {
        const res = await removeAll(injector, log, input.campaignId, {
          watchMs: input.watchMs ?? 10_000,
          note: input.reason,
          sleep: (ms) => Context.current().sleep(ms),
        });
        let lastSeq = -1;
        for (const e of readFaultLogEvents(path)) {
          if ('id' in e) {
            const m = /^f(\d+)$/.exec(e.id);
            if (m) lastSeq = Math.max(lastSeq, Number(m[1]));
          }
        }
        return { removed: res.removed, ...(res.unreachable.length ? { unreachable: res.unreachable } : {}), lastSeq };
      } finally {
        log.close();
      }
    },

    /** Ground truth exports: folded JSONL, Arrow IPC and Grafana annotations beside the log. */

    async exportFaultLog(input: ExportFaultLogInput): Promise<ExportFaultLogResult> {
      const path = faultLogPath(input.dataDir);
      const records = readFaultLog(path);
      const dir = dirname(path);
      const jsonlPath = join(dir, 'faults.records.jsonl');
      const arrowPath = join(dir, 'faults.arrow');
      const annotationsPath = join(dir, 'annotations.json');
      exportFaultLogJsonl(records, jsonlPath);
      exportFaultLogArrow(records, arrowPath);
      writeFileSync(annotationsPath, JSON.stringify(grafanaAnnotations(records), null, 2));
      return { jsonlPath, arrowPath, annotationsPath, records: records.length };
    },
  };
}

export type ChaosActivities = ReturnType<typeof createChaosActivities>;
