import { PLATFORM_SERVICES, type FaultSpec, type GuardConfig } from '../../schemas/faults';
import { blastRadius } from './errors';

/**
 * The blast-radius guard. Every refusal returns a sentence saying what was refused and which setting allows
 * it; the engine writes it to the fault log as a `rejected` event (never silent).
 */
export function isPlatformService(app: string, guard: GuardConfig): boolean {
  const a = app.toLowerCase();
  if (guard.allowRedis && (a === 'redis' || a === 'redis-cart')) return false;
  return (
    (PLATFORM_SERVICES as readonly string[]).includes(a) ||
    /^(temporal|prometheus|node-exporter|faultline-worker|supervisor)/.test(a)
  );
}

/** Why this namespace/app may not be faulted, or undefined when it may. */
export function checkTarget(guard: GuardConfig, target: { namespace: string; app: string }): string | undefined {
  if (!target.app) return 'the target has no app label; faultline only faults labelled workloads';
  if (isPlatformService(target.app, guard)) {
    return `refused: "${target.app}" is part of the platform (Temporal, Prometheus, node-exporter, workers, supervisor${
      guard.allowRedis ? '' : ', redis'
    }) and is never faulted${/redis/.test(target.app) ? ' (set chaos.guard.allowRedis to fault the cart Redis)' : ''}`;
  }
  if (!guard.allowedNamespaces.includes(target.namespace)) {
    return `refused: namespace "${target.namespace}" is outside chaos.guard.allowedNamespaces [${guard.allowedNamespaces.join(', ')}]`;
  }
  if (guard.allowedServices && !guard.allowedServices.includes(target.app)) {
    return `refused: service "${target.app}" is outside chaos.guard.allowedServices [${guard.allowedServices.join(', ')}]`;
  }
  return undefined;
}

/** Spec-level refusals (independent of the pods found). */
export function checkSpec(guard: GuardConfig, spec: FaultSpec): string | undefined {
  if (spec.mode === 'all' && !guard.allowModeAll) {
    return `refused: ${spec.type} with mode "all" takes every pod of the service down; set chaos.guard.allowModeAll: true to allow it`;
  }
  if (spec.selector.namespace && !guard.allowedNamespaces.includes(spec.selector.namespace)) {
    return `refused: namespace "${spec.selector.namespace}" is outside chaos.guard.allowedNamespaces [${guard.allowedNamespaces.join(', ')}]`;
  }
  const app = spec.selector.app ?? spec.selector.labels.app;
  if (app) return checkTarget(guard, { namespace: spec.selector.namespace ?? guard.allowedNamespaces[0] ?? '', app });
  return undefined;
}

export function checkConcurrency(guard: GuardConfig, active: number): string | undefined {
  if (active >= guard.maxConcurrent) {
    return `refused: ${active} faults already active, chaos.guard.maxConcurrent is ${guard.maxConcurrent}`;
  }
  return undefined;
}

/** Every refusal a config would produce for every spec; the CLI and the loop's first activity report them. */
export function preflight(guard: GuardConfig, specs: FaultSpec[]): string[] {
  return specs.flatMap((s, i) => {
    const r = checkSpec(guard, s);
    return r ? [`chaos.faults[${i}] (${s.type}): ${r}`] : [];
  });
}

/**
 * The refusals of `preflight`, or a non-retryable `BlastRadius` failure when the guard refuses every fault: the
 * chaos phase would inject nothing, which no retry changes and which must not pass for a quiet campaign.
 */
export function preflightOrRefuse(guard: GuardConfig, specs: FaultSpec[]): string[] {
  const refusals = preflight(guard, specs);
  if (specs.length > 0 && refusals.length === specs.length) {
    throw blastRadius(`every fault in chaos.faults is refused by the blast-radius guard:\n${refusals.join('\n')}`);
  }
  return refusals;
}
