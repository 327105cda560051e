/**
 * The one interface every fault kind implements (after Chaos Mesh's controllers/chaosimpl/<kind>/: one unit per
 * kind behind one interface). A kind is one module in this folder exporting one `FaultKind`, listed once in
 * registry.ts; everything else (the campaign schema's fault union, the local and Kubernetes injectors, purge, the
 * report's colours, the docs table) is derived from the registry. See docs/fault-kinds.md.
 *
 * Bundle rule: schemas/faults.ts builds the campaign schema from the registry, and the campaign schema is part of
 * the Temporal workflow bundle (webpack, no Node built-ins). So a kind module, and everything it imports at
 * runtime, must be pure: `zod`, schemas/duration, ./params, ../pods-back, nothing from node:*, the supervisor
 * client, child_process or the Kubernetes client. Mechanisms reach a kind through the context objects below
 * (`LocalKindContext`, `ChaosMeshContext`), which the node-side injectors fill in; `import type` is always fine.
 */
import type { z } from 'zod';
import type { FaultType } from '../../../schemas/faults';
import type { PodInfo } from '../../deploy/types';
import type { SupervisorHttp } from '../supervisor-http';

/** One selected fault, ready to apply: what was planned plus the pods the selection picked. */
export interface ResolvedFault<P = Record<string, unknown>> {
  /** Fault id within the campaign. */
  id: string;
  campaignId: string;
  /** Idempotency key = campaign id + fault id: a retry finds its fault, never adds one. */
  key: string;
  type: FaultType;
  namespace: string;
  app: string;
  pods: PodInfo[];
  /** The kind's parameters with their defaults applied (typed by the kind's zod schema inside a kind). */
  params: P;
  plannedMs: number;
  /** Planned end: the injector removes the fault then (local faults also expire by themselves). */
  endMs: number;
  /** Injector-specific state recorded in the `planned` event (pid file, object name, restarts before). */
  detail: Record<string, unknown>;
}

/**
 * Runs a host process that carries a fault's load, charged to the target pod's cgroups (stress-ng today;
 * activities/chaos/stress-ng.ts implements it). Idempotent by `fault.key`: a pid file records each run, so a retry
 * finds its process and purge can kill it with no worker or supervisor.
 */
export interface HostProcessRunner {
  /** Starts the process for this fault (argv without the program; the runner adds its own timeout). */
  start(ctx: LocalKindContext, fault: ResolvedFault<unknown>, argv: string[]): Promise<void>;
  /** Kills it (its whole process group) and forgets it. */
  stop(fault: ResolvedFault<unknown>): void;
  /** Is this fault's process still running? */
  running(fault: ResolvedFault<unknown>): boolean;
}

/** What a kind's local implementation works through (chaosimpl gets its clients injected the same way). */
export interface LocalKindContext {
  /**
   * The local supervisor: pods (list, kill, hold/release), proxy faults, pod pids and cgroups. On the trigger
   * thread's path (`timed` kinds) this is a client whose requests fire at the planned instant.
   */
  supervisor: SupervisorHttp;
  /** Host processes charged to a pod (stress-ng). */
  processes: HostProcessRunner;
  signal?: AbortSignal;
}

/**
 * A kind on the local target (supervisor + fault proxies + host processes). `apply` and `recover` are idempotent
 * by `fault.key`. `recovered` reports the observed recovery: the pod is ready again or the effect is gone.
 */
export interface LocalKind<P> {
  /** One-shot faults (pod-kill) have nothing to remove: they count as removed when applied. */
  readonly oneShot: boolean;
  /**
   * `apply` is nothing but supervisor requests, so the trigger thread may fire it at the planned instant itself
   * (the engine hands the fault over up to 500 ms early). False for kinds that spawn processes or wait on anything
   * else: those are applied by the engine's loop at the instant.
   */
  readonly timed: boolean;
  /**
   * The effect is a process this worker's host runs (stress-ng): purge and cleanup remove it through
   * `processes.stop` with no supervisor or cluster, and it never counts as "expired by itself".
   */
  readonly hostProcess: boolean;
  /** Called before the `planned` event is written, to record in `fault.detail` what apply/recover will need. */
  prepare?(ctx: LocalKindContext, fault: ResolvedFault<P>): Promise<void> | void;
  apply(ctx: LocalKindContext, fault: ResolvedFault<P>): Promise<void>;
  recover(ctx: LocalKindContext, fault: ResolvedFault<P>): Promise<void>;
  recovered(ctx: LocalKindContext, fault: ResolvedFault<P>, removedMs: number): Promise<boolean>;
  /** After a crash between `planned` and `applied`: is the effect already in place? Absent: assume not. */
  isApplied?(ctx: LocalKindContext, fault: ResolvedFault<P>): Promise<boolean>;
}

/** The Chaos Mesh kinds (chaos-mesh.org/v1alpha1) a fault may become; activities/deploy serves these plurals. */
/** `Workflow` sequences other kinds' objects over time (memory-leak: StressChaos steps of growing size). */
export type ChaosMeshKindName = 'PodChaos' | 'NetworkChaos' | 'StressChaos' | 'HTTPChaos' | 'Workflow';

/** What a spec builder gets besides the fault. */
export interface ChaosMeshContext {
  /**
   * `{ mode: 'all', selector: { pods: { <ns>: [<picked pods>] } } }`: the engine already chose the pods (seeded,
   * logged), so every object names exactly those pods. Spread it into the spec.
   */
  base: { mode: 'all'; selector: { pods: Record<string, string[]> } };
  /** The fault's duration as Chaos Mesh writes it ("8s", "1m30s"); at least 1 s. */
  duration: string;
  /** The container port of an app (HTTPChaos needs one): target config, BOUTIQUE_PORTS today, else 8080. */
  portOf: (app: string) => number;
}

/**
 * One more Chaos Mesh object of a fault. A kind whose Chaos Mesh form is several objects (a NetworkChaos per
 * direction, ...) returns them from `extraObjects`; each is named `<fault object name>-<suffix>`, labelled with the
 * campaign and fault id like the main object, created at apply and deleted at recover and by the campaign sweep.
 *
 * `offsetMs` > 0 (created that long after the fault's planned start) is the documented extension point for
 * sequences over time: the Kubernetes injector refuses it today with an error naming the kind, because creating an
 * object later needs a durable timer in the batch engine's service loop. A kind can instead be one Chaos Mesh
 * `Workflow` that sequences its steps itself, as memory-leak is (see docs/fault-kinds.md, "Sequences over time").
 */
export interface ChaosMeshPart {
  suffix: string;
  kind: ChaosMeshKindName;
  spec: Record<string, unknown>;
  offsetMs?: number;
}

/** A kind as Chaos Mesh objects (activities/chaos/chaos-mesh.ts creates, finds and deletes them). */
export interface ChaosMeshKind<P> {
  readonly kind: ChaosMeshKindName;
  /** The object's `spec` (the injector adds apiVersion, kind, name, labels and annotations). */
  spec(fault: ResolvedFault<P>, ctx: ChaosMeshContext): Record<string, unknown>;
  /** Further objects of the same fault (see ChaosMeshPart). */
  extraObjects?(fault: ResolvedFault<P>, ctx: ChaosMeshContext): ChaosMeshPart[];
  /**
   * How recovery is observed once the object is gone: `pods-back` (the hit pods are ready again or replaced, as
   * many ready as before) or `object-gone` (deleting the object undoes the effect).
   */
  readonly recovery: 'pods-back' | 'object-gone';
  /**
   * What "applied" means after a crash between `planned` and `applied`: `exists` (the object is there) or
   * `injected` (Chaos Mesh reports injectedCount > 0 in status.experiment.containerRecords: a one-shot PodChaos
   * whose object exists may not have killed anything yet).
   */
  readonly applied: 'exists' | 'injected';
}

/**
 * One fault kind. `P` is its zod params schema: `z.object({...}).strict()` with every default set there (the
 * campaign schema wraps it in `.prefault({})`). Its `z.output` is what `fault.params` is in this kind's functions,
 * so they read typed, defaulted values (no re-parsing).
 */
export interface FaultKind<T extends string = string, P extends z.ZodObject = z.ZodObject> {
  readonly type: T;
  readonly params: P;
  /** Default `duration` of a spec of this kind; absent: the common default ("10s"). */
  readonly defaultDuration?: string;
  /** One line for docs/fault-kinds.md's table (a test checks the table against the registry). */
  readonly doc: string;
  /** In the report: legend label and colour of this kind's fault bands. */
  readonly report: { label: string; color: string };
  /**
   * Which services it may hit when the spec names no app: `any`, or `http` (only HTTP-speaking apps: the target
   * config lists them, LOCAL_HTTP_APPS locally; on Kubernetes HTTPChaos takes any app's port).
   */
  readonly services: 'any' | 'http';
  readonly local: LocalKind<z.output<P>>;
  readonly chaosMesh: ChaosMeshKind<z.output<P>>;
  /**
   * Params a spec of this kind must name (a kind with a required parameter, e.g. dependency-failure's
   * `dependency`): what the docs show and what tests that build "every kind" put in their spec. Absent: `{}` is a
   * valid spec.
   */
  readonly example?: Record<string, unknown>;
  /**
   * The service that is the root cause of the fault, for localisation's ground truth (activities/dataset
   * episodes.json): absent, the app the selector picked. dependency-failure: the named dependency (the caller only
   * shows the symptom).
   */
  rootCause?(fault: { app: string; params: z.output<P> }): string;
  /**
   * Checks of a spec beyond its params schema, at config time (the campaign schema's refinement): an issue names
   * the field (path under the spec) and the fix. The same rule must hold again at apply time, where the selector
   * may have picked an app the config did not name.
   */
  checkSpec?(spec: { selector: { app?: string | undefined }; params: z.output<P> }): SpecIssue | undefined;
}

/** A spec a kind refuses: the field's path under the spec (e.g. ['params', 'dependency']) and why. */
export interface SpecIssue {
  path: (string | number)[];
  message: string;
}

/** Any registered kind, with its params erased (what the injectors dispatch on). */
export type AnyFaultKind = FaultKind<string, z.ZodObject>;

/** Identity with inference: `export const podKill = defineKind({ type: 'pod-kill', params: z.object(...), ... })`. */
export function defineKind<const T extends string, P extends z.ZodObject>(kind: FaultKind<T, P>): FaultKind<T, P> {
  return kind;
}
