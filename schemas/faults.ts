import { z } from 'zod';
import type { AnyFaultKind } from '../activities/chaos/kinds/kind';
import { FAULT_KINDS, type KindType } from '../activities/chaos/kinds/registry';
import { duration } from './duration';

/**
 * The target-independent fault vocabulary: the kinds in activities/chaos/kinds/registry.ts, in registry order
 * (append only: the dataset's label index of a kind is its position).
 */
export const FAULT_TYPES: readonly FaultType[] = FAULT_KINDS.map((k) => k.type);
export type FaultType = KindType;

/** Chaos Mesh's selection modes (pkg/selector/generic/mode.go). */
export const FAULT_MODES = ['one', 'all', 'fixed', 'fixed-percent', 'random-max-percent'] as const;
export type FaultMode = (typeof FAULT_MODES)[number];

/** Services that are the platform itself: the guard never lets a fault touch them (redis only when allowed). */
export const PLATFORM_SERVICES = [
  'temporal',
  'temporal-ui',
  'prometheus',
  'node-exporter',
  'grafana',
  'worker',
  'workers',
  'faultline-worker',
  'training-worker',
  'supervisor',
  'redis',
  'redis-cart',
] as const;

/**
 * Which pods a fault may hit. Empty = every pod the guard allows (the reference kills a random pod of the
 * namespace). `app` is shorthand for `labels: { app }`.
 */
export const faultSelectorSchema = z
  .object({
    namespace: z.string().optional(),
    app: z.string().optional(),
    labels: z.record(z.string(), z.string()).default({}),
    /** Explicit pod names (Chaos Mesh `selector.pods`). */
    pods: z.array(z.string()).optional(),
  })
  .strict();
export type FaultSelector = z.infer<typeof faultSelectorSchema>;

/** The fields every fault spec has besides `type` and `params` (in this order: the JSON Schema keeps it). */
function baseFields(defaultDuration: string) {
  return {
    selector: faultSelectorSchema.prefault({}),
    mode: z.enum(FAULT_MODES).default('one'),
    /** fixed: a pod count; fixed-percent / random-max-percent: 1..100. */
    value: z.number().positive().optional(),
    /** How long the fault stays applied (pod-kill is one-shot: this is how long recovery is watched). */
    duration: duration().default(defaultDuration),
    /** Relative weight in the mix. */
    weight: z.number().positive().default(1),
  };
}
type BaseFields = ReturnType<typeof baseFields>;

/** One kind's spec: `{ type, selector, mode, value, duration, weight, params }`, strict, params defaulted. */
type SpecSchemaOf<K extends AnyFaultKind> = z.ZodObject<
  { type: z.ZodLiteral<K['type']> } & BaseFields & { params: z.ZodPrefault<K['params']> },
  z.core.$strict
>;
type SpecSchemas<Ks extends readonly AnyFaultKind[]> = { -readonly [I in keyof Ks]: SpecSchemaOf<Ks[I]> };

function specSchemaOf<K extends AnyFaultKind>(kind: K): SpecSchemaOf<K> {
  return z
    .object({
      type: z.literal(kind.type),
      ...baseFields(kind.defaultDuration ?? '10s'),
      params: kind.params.prefault({}),
    })
    .strict();
}

/** The spec schema of each registered kind, in registry order. */
export const FAULT_SPEC_SCHEMAS = FAULT_KINDS.map((k) => specSchemaOf(k)) as unknown as SpecSchemas<typeof FAULT_KINDS>;

/** One fault kind with its selector, mode, duration and parameters: a discriminated union on `type`. */
export const faultSpecSchema = z.discriminatedUnion('type', FAULT_SPEC_SCHEMAS).superRefine((f, ctx) => {
  // a kind's own checks across selector and params (dependency-failure: the caller is not its own dependency)
  const issue = (FAULT_KINDS.find((k) => k.type === f.type) as AnyFaultKind | undefined)?.checkSpec?.(f);
  if (issue) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  if (f.mode === 'fixed' && (f.value === undefined || !Number.isInteger(f.value))) {
    ctx.addIssue({ code: 'custom', path: ['value'], message: 'mode "fixed" needs an integer `value` (pod count)' });
  }
  if ((f.mode === 'fixed-percent' || f.mode === 'random-max-percent') && (f.value === undefined || f.value > 100)) {
    ctx.addIssue({ code: 'custom', path: ['value'], message: `mode "${f.mode}" needs \`value\` in (0, 100]` });
  }
});
export type FaultSpec = z.infer<typeof faultSpecSchema>;
export type FaultSpecOf<T extends FaultType> = Extract<FaultSpec, { type: T }>;

/** When faults start: fixed interval, uniform random interval (the reference: 1–2 s) or a Poisson process. */
export const scheduleSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('fixed'), interval: duration() }).strict(),
  z.object({ type: z.literal('uniform'), min: duration().default('1s'), max: duration().default('2s') }).strict(),
  /** mean inter-arrival time; intervals are exponential */
  z.object({ type: z.literal('poisson'), mean: duration() }).strict(),
]);
export type ChaosSchedule = z.infer<typeof scheduleSchema>;

/**
 * Alternating fault bursts and quiet gaps inside the chaos phase, so the chaos phase itself holds both
 * anomalous and normal periods. Faults are planned only inside bursts.
 */
export const episodesSchema = z
  .object({
    burst: duration().default('30s'),
    quiet: duration().default('20s'),
    startWith: z.enum(['burst', 'quiet']).default('burst'),
  })
  .strict();
export type Episodes = z.infer<typeof episodesSchema>;

/** The blast-radius guard: what faults may touch. */
export const guardSchema = z
  .object({
    /** Namespaces faults may target; locally the stand-in's namespace is "default". */
    allowedNamespaces: z.array(z.string()).min(1).default(['default', 'boutique']),
    /** Services faults may target; absent = every non-platform service. */
    allowedServices: z.array(z.string()).optional(),
    /** Most faults active at once; an extra one is rejected (and logged), not queued. */
    maxConcurrent: z.number().int().min(1).default(4),
    /** `mode: all` takes a whole service down: only with this flag. */
    allowModeAll: z.boolean().default(false),
    /** The cart's Redis is platform by default; allow it explicitly to fault it. */
    allowRedis: z.boolean().default(false),
  })
  .strict();
export type GuardConfig = z.infer<typeof guardSchema>;

/** Abort conditions: any one holding ends the chaos phase early; every fault is removed and the reason logged. */
export const abortSchema = z
  .object({
    slos: z
      .array(
        z
          .object({
            name: z.string().min(1),
            /** PromQL returning one number (the first sample of the vector is used). */
            query: z.string().min(1),
            op: z.enum(['>', '<', '>=', '<=']).default('>'),
            threshold: z.number(),
            /** How long the breach must hold before aborting; "0s" = on first breach. */
            for: duration().default('10s'),
          })
          .strict(),
      )
      .default([]),
    /** Browser-probe failures in a row (read from the probe's runs JSONL); absent = not checked. */
    browserFailuresInARow: z.number().int().min(1).optional(),
    checkInterval: duration().default('2s'),
  })
  .strict();
export type AbortConfig = z.infer<typeof abortSchema>;

export const chaosSchema = z
  .object({
    enabled: z.boolean().default(true),
    seed: z.number().int().default(1),
    schedule: scheduleSchema.default({ type: 'uniform', min: '1s', max: '2s' }),
    /**
     * How each planned fault picks its spec: `weighted` (absent = weighted) draws one from the seeded weighted
     * mix; `cycle` takes `faults` in config order, round-robin (fault n gets spec n mod the number of specs,
     * weights ignored), so N × specs faults give every spec exactly N repetitions. No default value, so a config
     * without it resolves exactly as before the option existed.
     */
    order: z.enum(['weighted', 'cycle']).optional(),
    /** The weighted mix of fault kinds; each planned fault draws one by weight (or in turn: `order: cycle`). */
    faults: z
      .array(faultSpecSchema)
      .min(1)
      .prefault([
        { type: 'pod-kill', weight: 6, duration: '10s' },
        { type: 'cpu-stress', weight: 1, duration: '8s' },
        { type: 'network-delay', weight: 1, duration: '8s' },
        { type: 'http-abort', weight: 1, duration: '5s', selector: { app: 'frontend' }, params: { percent: 50 } },
      ]),
    /** null = faults all through the chaos phase. */
    episodes: episodesSchema.nullable().default({ burst: '30s', quiet: '20s', startWith: 'burst' }),
    guard: guardSchema.prefault({}),
    abort: abortSchema.prefault({}),
    /**
     * Plan time one injection activity covers at most: counters reach the campaign's `progress` after each
     * batch, so a batch of 100 faults in sparse bursts would leave them at 0 for minutes.
     */
    batchSpan: duration().default('20s'),
    /** Faults per heartbeating injection activity (at most; `batchSpan` usually ends a batch first). Batches
     * overlap: the next one is already running and takes over through a hand-over file, so a batch boundary costs
     * no workflow round trip; only a continue-as-new drains them. */
    batchSize: z.number().int().min(1).max(200).default(100),
    /** History events per run before continue-as-new (the loop reserves room for the batches in flight). */
    maxHistoryEvents: z.number().int().min(50).max(40000).default(400),
    /** A fault planned more than this long ago (e.g. after a worker crash) is logged as missed, not injected late. */
    maxLateness: duration().default('15s'),
  })
  .strict();
export type ChaosConfig = z.infer<typeof chaosSchema>;
export type ChaosConfigInput = z.input<typeof chaosSchema>;
