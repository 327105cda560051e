import type { FaultType } from '../../../schemas/faults';
import type { PodInfo } from '../../deploy/types';
import type { SupervisorHttp } from '../supervisor-http';
import { podsBackFrom } from '../pods-back';

/** One selected fault, ready to apply: what was planned plus the pods the selection picked. */
export interface ResolvedFault {
  /** Fault id within the campaign. */
  id: string;
  campaignId: string;
  /** Idempotency key = campaign id + fault id: a retry finds its fault, never adds one. */
  key: string;
  type: FaultType;
  namespace: string;
  app: string;
  pods: PodInfo[];
  params: Record<string, unknown>;
  plannedMs: number;
  /** Planned end: the injector removes the fault then (local faults also expire by themselves). */
  endMs: number;
  /** Injector-specific state recorded in the `planned` event (pid file, object name, restarts before). */
  detail: Record<string, unknown>;
}

export interface LocalFaultContext {
  supervisor: SupervisorHttp;
  signal?: AbortSignal;
}

/**
 * One kind of fault on the local target (after chaos-mesh controllers/chaosimpl/types: Apply / Recover).
 * `apply` and `recover` are idempotent by `fault.key`. `recovered` reports the observed recovery: the pod
 * is ready again or the effect is gone.
 */
export interface Fault {
  readonly type: FaultType;
  /** One-shot faults (pod-kill) have nothing to remove: they count as removed when applied. */
  readonly oneShot: boolean;
  /** Called before the `planned` event is written, to record what apply/recover will need. */
  prepare?(ctx: LocalFaultContext, fault: ResolvedFault): Promise<void> | void;
  apply(ctx: LocalFaultContext, fault: ResolvedFault): Promise<void>;
  recover(ctx: LocalFaultContext, fault: ResolvedFault): Promise<void>;
  recovered(ctx: LocalFaultContext, fault: ResolvedFault, removedMs: number): Promise<boolean>;
  /** After a crash between `planned` and `applied`: is the effect already in place? */
  isApplied?(ctx: LocalFaultContext, fault: ResolvedFault): Promise<boolean>;
}

/** A pod is back when the app has as many ready pods as before and each hit pod restarted or was replaced. */
export async function podsBack(ctx: LocalFaultContext, fault: ResolvedFault, sinceMs: number): Promise<boolean> {
  return podsBackFrom(await ctx.supervisor.listPods({ app: fault.app }), fault, sinceMs);
}
