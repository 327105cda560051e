/**
 * Every fault kind, in the order the campaign schema's union, FAULT_TYPES and the dataset's label index list
 * them (append new kinds at the end: the label index of a kind is its position). Adding a kind = one module in
 * this folder + one line here (+ tests, docs, and any new local mechanism in infra/local).
 */
import type { AnyFaultKind } from './kind';
import { podKill } from './pod-kill';
import { podFailure } from './pod-failure';
import { networkDelay } from './network-delay';
import { networkLoss } from './network-loss';
import { cpuStress } from './cpu-stress';
import { memoryStress } from './memory-stress';
import { httpAbort } from './http-abort';
import { httpDelay } from './http-delay';
import { networkBandwidth } from './network-bandwidth';
import { dependencyFailure } from './dependency-failure';
import { containerKill } from './container-kill';
import { memoryLeak } from './memory-leak';

export const FAULT_KINDS = [
  podKill,
  podFailure,
  networkDelay,
  networkLoss,
  cpuStress,
  memoryStress,
  httpAbort,
  httpDelay,
  networkBandwidth,
  dependencyFailure,
  containerKill,
  memoryLeak,
] as const;

/** A registered kind's type name. */
export type KindType = (typeof FAULT_KINDS)[number]['type'];

const BY_TYPE = new Map<string, AnyFaultKind>(FAULT_KINDS.map((k) => [k.type, k as AnyFaultKind]));

/** The kind of a fault type; an unknown type (a log from a newer version) is an error naming the known ones. */
export function kindOf(type: string): AnyFaultKind {
  const kind = BY_TYPE.get(type);
  if (!kind)
    throw new Error(
      `unknown fault type "${type}": this version knows ${FAULT_KINDS.map((k) => k.type).join(', ')} ` +
        '(activities/chaos/kinds/registry.ts)',
    );
  return kind;
}

/**
 * The fault as its kind's functions see it: params parsed by the kind's schema, so they are typed and defaulted
 * (a fault rebuilt from an older log line gets today's defaults for a missing parameter, as the old per-site
 * fallbacks did). A parameter the schema refuses is an error naming the fault, the kind and the parameter.
 */
export function withKindParams<P>(
  kind: AnyFaultKind,
  fault: { id: string; type: string; params: unknown },
  opts: { lenient?: boolean } = {},
): P {
  const parsed = kind.params.safeParse(fault.params ?? {});
  if (!parsed.success) {
    // removing a fault must not fail on a parameter an older version accepted: its params pass as logged
    if (opts.lenient) return (fault.params ?? {}) as P;
    const issue = parsed.error.issues[0];
    throw new Error(
      `fault ${fault.id} (${fault.type}): params${issue?.path.length ? '.' + issue.path.join('.') : ''}: ` +
        `${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data as P;
}

/**
 * The root-cause service of a logged fault (localisation's ground truth): its kind's `rootCause`, else the app the
 * selector picked. A type this version does not know, or params it cannot read, fall back to the picked app.
 */
export function rootCauseOf(f: { type: string; app: string; params: unknown }): string {
  const kind = BY_TYPE.get(f.type);
  if (!kind?.rootCause) return f.app;
  const parsed = kind.params.safeParse(f.params ?? {});
  return parsed.success ? kind.rootCause({ app: f.app, params: parsed.data }) : f.app;
}
