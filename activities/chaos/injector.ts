import type { FaultType } from '../../schemas/faults';
import type { PodInfo } from '../deploy/types';
import type { LocalKindContext, ResolvedFault } from './kinds/kind';
import { kindOf, withKindParams } from './kinds/registry';
import { stressNg } from './stress-ng';
import { SupervisorHttp, type ApplyTiming } from './supervisor-http';
import type { FireGuard } from './trigger-thread';

/** Applies faults on one target kind; the engine (engine.ts) does timing, guard, logging and recovery watch. */
export interface Injector {
  readonly kind: 'local' | 'kubernetes';
  listPods(selector: Record<string, string>): Promise<PodInfo[]>;
  oneShot(type: FaultType): boolean;
  prepare?(fault: ResolvedFault): Promise<void>;
  /**
   * Applies the fault. With `at` (only for types where `timedApply` says so) the injector itself fires the effect
   * at that instant (the engine hands it over a little early) and reports when it took effect.
   */
  apply(fault: ResolvedFault, at?: number, guard?: FireGuard): Promise<ApplyTiming | void>;
  /** Whether `apply(fault, at)` fires at `at` by itself for this fault type. */
  timedApply?(type: FaultType): boolean;
  /** Prepares what timed applies use (thread, connection) ahead of time; called when a batch starts. */
  warm?(): void;
  /**
   * Removes the fault; may answer a note for the fault log's `removed` line (e.g. finalizers removed by force).
   * `final` (campaign cleanup, purge): the removal must be complete when this returns — wait for the target to
   * finish it (and finish it if the target cannot). Without it (the chaos loop) it may complete asynchronously.
   */
  recover(fault: ResolvedFault, opts?: { final?: boolean }): Promise<void | string>;
  /** Notes about removals `sweep` (or a non-final `recover`) completed later, by fault id, for the fault log. */
  takeRemovalNotes?(): { faultId?: string; note: string }[];
  recovered(fault: ResolvedFault, removedMs: number): Promise<boolean>;
  /** After a crash between the `planned` line and the `applied` line: is it in place already? */
  isApplied(fault: ResolvedFault): Promise<boolean>;
  /** Removes faults of a campaign that the target itself can list (not only those in the log). */
  sweep?(campaignId: string): Promise<number>;
  /** Which of these apps can take this fault type (e.g. HTTP faults need an HTTP service); default: all. */
  eligibleApps?(type: FaultType, apps: string[]): string[];
}

/** The local stand-in's HTTP services (the rest speak gRPC, where the proxy can only delay or drop bytes). */
export const LOCAL_HTTP_APPS = ['frontend'];

/** The local target: the supervisor (kill, hold, proxy faults) and stress-ng processes. */
export class LocalInjector implements Injector {
  readonly kind = 'local' as const;
  readonly supervisor: SupervisorHttp;

  constructor(
    supervisorUrl: string,
    private readonly httpApps: string[] = LOCAL_HTTP_APPS,
  ) {
    this.supervisor = new SupervisorHttp(supervisorUrl);
  }

  /** Kinds that hit only HTTP-speaking services (`services: 'http'`) get the target's HTTP apps among these. */
  eligibleApps(type: FaultType, apps: string[]): string[] {
    return kindOf(type).services === 'http' ? apps.filter((a) => this.httpApps.includes(a)) : apps;
  }

  private get ctx(): LocalKindContext {
    return { supervisor: this.supervisor, processes: stressNg };
  }
  listPods(selector: Record<string, string>) {
    return this.supervisor.listPods(selector);
  }
  oneShot(type: FaultType) {
    return kindOf(type).local.oneShot;
  }
  warm() {
    this.supervisor.warm();
  }
  async prepare(f: ResolvedFault) {
    const { local, fault } = localKind(f);
    await local.prepare?.(this.ctx, fault);
  }
  timedApply(type: FaultType) {
    return kindOf(type).local.timed;
  }
  async apply(f: ResolvedFault, at?: number, guard?: FireGuard): Promise<ApplyTiming | void> {
    const { local, fault } = localKind(f);
    if (at === undefined || !local.timed) return local.apply(this.ctx, fault);
    const timing: ApplyTiming = {};
    this.supervisor.warm(); // the trigger thread's socket may have idled out since the last fault
    await local.apply({ ...this.ctx, supervisor: this.supervisor.timed(at, timing, guard) }, fault);
    return timing;
  }
  recover(f: ResolvedFault) {
    const { local, fault } = localKind(f, true);
    return local.recover(this.ctx, fault);
  }
  recovered(f: ResolvedFault, removedMs: number) {
    const { local, fault } = localKind(f, true);
    return local.recovered(this.ctx, fault, removedMs);
  }
  async isApplied(f: ResolvedFault) {
    const { local, fault } = localKind(f, true);
    return local.isApplied ? local.isApplied(this.ctx, fault) : false;
  }
  async sweep(campaignId: string): Promise<number> {
    const prefix = `${campaignId}:`;
    let n = 0;
    for (const pf of await this.supervisor.listProxyFaults()) {
      if (!pf.faultId.startsWith(prefix)) continue;
      await this.supervisor.deleteProxyFault(pf.app, pf.faultId);
      n++;
    }
    // memory leaks free themselves at their end, but a stopped campaign's must go now
    for (const leak of await this.supervisor.listMemoryLeaks()) {
      if (!leak.faultId.startsWith(prefix)) continue;
      await this.supervisor.stopMemoryLeak(leak.pod, leak.faultId);
      n++;
    }
    return n;
  }
}

/** A fault's local implementation and the fault with its params typed by its kind (detail stays shared). */
function localKind(f: ResolvedFault, lenient = false) {
  const kind = kindOf(f.type);
  return { local: kind.local, fault: { ...f, params: withKindParams<Record<string, unknown>>(kind, f, { lenient }) } };
}

/**
 * Removes a fault whose effect is a process on this host (a stress kind's `hostProcess`) with no supervisor or
 * cluster: purge and a cleanup with no target. Answers false for kinds whose effect lives elsewhere.
 */
export function stopHostProcess(f: ResolvedFault): boolean {
  if (!kindOf(f.type).local.hostProcess) return false;
  stressNg.stop(f);
  return true;
}

/** Idempotency key of a fault: campaign id + fault id. */
export const faultKey = (campaignId: string, faultId: string) => `${campaignId}:${faultId}`;
