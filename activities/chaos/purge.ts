import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { kubernetesTargetSchema, type KubernetesTargetConfig } from '../../schemas/target';
import { KubernetesInjector } from './chaos-mesh';
import { FaultLog, activeFaults, foldFaultLog, readFaultLogEvents, registeredFaultLogs } from './fault-log';
import { resolvedFromRecord } from './engine';
import { LocalInjector, stopHostProcess, type Injector } from './injector';
import { kindOf } from './kinds/registry';
import { killStress, listStressPidFiles, stressAlive } from './stress-ng';
import { faultLogPath, faultlineHome } from './paths';
import { KubernetesTarget } from '../deploy/kubernetes-target';

export interface PurgeOptions {
  home?: string;
  dryRun?: boolean;
  /** Also sweep Chaos Mesh objects labelled by each campaign in this cluster namespace. */
  kubernetes?: Pick<KubernetesTargetConfig, 'namespace' | 'kubeconfig' | 'context'>;
  /** Override the supervisor URL recorded in the logs (local target). */
  supervisorUrl?: string;
  /** How long a deleted Chaos Mesh object may keep its finalizers before purge removes them (default 10 s). */
  finalizerWaitMs?: number;
}

export interface PurgeReport {
  logs: string[];
  removed: { campaignId: string; id: string; type: string; app: string; how: string }[];
  stressKilled: number;
  kubernetesObjects: number;
  /** Chaos Mesh objects of faultline's whose finalizers purge removed because the Chaos Mesh controller was gone. */
  finalizersRemoved: string[];
  problems: string[];
}

/** Every fault log this machine knows: the registry plus <home>/campaigns/<id>/chaos/faults.jsonl. */
export function knownFaultLogs(home = faultlineHome()): string[] {
  const logs = new Set(registeredFaultLogs());
  const root = join(home, 'campaigns');
  if (existsSync(root)) {
    for (const d of readdirSync(root)) {
      const p = faultLogPath(join(root, d));
      if (existsSync(p)) logs.add(p);
    }
  }
  return [...logs].filter((p) => existsSync(p));
}

/**
 * Removes every fault faultline left active, with no worker or Temporal server involved: folds each fault log,
 * undoes what is still applied (stress-ng by pid file, proxy faults and holds through the supervisor, Chaos Mesh
 * objects by campaign label), logs each removal, and kills stress-ng runs no log mentions.
 */
export async function purgeFaults(opts: PurgeOptions = {}): Promise<PurgeReport> {
  const report: PurgeReport = {
    logs: [],
    removed: [],
    stressKilled: 0,
    kubernetesObjects: 0,
    finalizersRemoved: [],
    problems: [],
  };
  const campaigns = new Set<string>();
  for (const path of knownFaultLogs(opts.home)) {
    report.logs.push(path);
    const events = readFaultLogEvents(path);
    const header = events.find((e) => e.ev === 'campaign');
    const records = foldFaultLog(events);
    let injector: Injector | undefined;
    const supervisorUrl = opts.supervisorUrl ?? (header?.ev === 'campaign' ? header.supervisorUrl : undefined);
    if (header?.ev === 'campaign' && header.targetKind === 'kubernetes' && opts.kubernetes) {
      injector = new KubernetesInjector(
        new KubernetesTarget(
          kubernetesTargetSchema.parse({ type: 'kubernetes', prometheusUrl: 'http://unused', ...opts.kubernetes }),
          header.campaignId,
          // what the target would log (finalizers removed) is in the report, which the CLI prints
          {
            log: () => undefined,
            ...(opts.finalizerWaitMs !== undefined ? { finalizerWaitMs: opts.finalizerWaitMs } : {}),
          },
        ),
      );
    } else if (supervisorUrl) {
      injector = new LocalInjector(supervisorUrl);
    }
    const log = opts.dryRun ? undefined : FaultLog.open(path);
    try {
      for (const r of activeFaults(records.values())) {
        campaigns.add(r.campaignId);
        const fault = resolvedFromRecord(r);
        let how: string;
        try {
          if (kindOf(fault.type).local.hostProcess) {
            if (!opts.dryRun) stopHostProcess(fault);
            how = 'stress-ng killed';
          } else if (injector) {
            const note = opts.dryRun ? undefined : await injector.recover(fault, { final: true });
            how = injector.kind === 'local' ? 'removed through the supervisor' : 'Chaos Mesh object deleted';
            if (note) how = `${how}; ${note}`;
          } else {
            // nothing to call: local proxy faults and holds expire by themselves at their end time
            const expired = fault.endMs <= Date.now();
            if (!expired)
              throw new Error(
                `no supervisor URL or cluster to remove it from; it expires at ${new Date(fault.endMs).toISOString()}`,
              );
            how = 'expired at its end time';
          }
        } catch (err) {
          const expired = fault.endMs <= Date.now() && !kindOf(fault.type).local.hostProcess;
          if (!expired) {
            report.problems.push(`${path}: ${r.id} ${r.type} on ${r.target.app}: ${(err as Error).message}`);
            continue;
          }
          how = `expired at its end time (target unreachable: ${(err as Error).message})`;
        }
        log?.append({ ev: 'removed', ts: Date.now(), id: r.id, note: `purge: ${how}` });
        report.removed.push({ campaignId: r.campaignId, id: r.id, type: r.type, app: r.target.app, how });
      }
      if (injector?.sweep && header?.ev === 'campaign' && !opts.dryRun) {
        try {
          const n = await injector.sweep(header.campaignId);
          if (injector.kind === 'kubernetes') report.kubernetesObjects += n;
        } catch (err) {
          report.problems.push(`${path}: sweep: ${(err as Error).message}`);
        }
      }
      if (injector instanceof KubernetesInjector) {
        report.finalizersRemoved.push(...injector.notes);
        // objects the sweep found still terminating (removed in the loop while the controller was gone)
        for (const n of injector.takeRemovalNotes())
          if (n.faultId && records.has(n.faultId))
            log?.append({ ev: 'removed', ts: Date.now(), id: n.faultId, note: `purge: ${n.note}` });
      }
    } finally {
      log?.close();
    }
  }
  // stress-ng runs whose log is gone (or never written) are still ours: the pid file says so
  for (const pf of listStressPidFiles()) {
    if (!stressAlive(pf.pid)) {
      if (!opts.dryRun) killStress(pf.key);
      continue;
    }
    if (!opts.dryRun) killStress(pf.key);
    report.stressKilled++;
  }
  return report;
}
