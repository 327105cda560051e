import type { PodInfo } from '../deploy/types';
import type { FaultMode, FaultSelector, GuardConfig } from '../../schemas/faults';
import { checkTarget, isPlatformService } from './guard';
import { mulberry32 } from '../random';

/** Stable 32-bit hash of a string (FNV-1a), to derive per-fault seeds. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Shuffles a copy deterministically (Fisher–Yates). */
function shuffled<T>(items: T[], rnd: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Picks pods by Chaos Mesh's modes (pkg/selector/generic/mode.go): one, all, fixed (count),
 * fixed-percent (floor of percent, at least one), random-max-percent (1..floor of percent). Pods are sorted
 * by name first so the choice depends only on the seed and the pod set.
 */
export function selectPods(pods: PodInfo[], mode: FaultMode, value: number | undefined, seed: number): PodInfo[] {
  if (pods.length === 0) return [];
  const rnd = mulberry32(seed);
  const sorted = [...pods].sort((a, b) => a.name.localeCompare(b.name));
  const pool = shuffled(sorted, rnd);
  const n = pool.length;
  let count: number;
  switch (mode) {
    case 'one':
      count = 1;
      break;
    case 'all':
      count = n;
      break;
    case 'fixed':
      count = Math.min(n, Math.max(1, Math.floor(value ?? 1)));
      break;
    case 'fixed-percent':
      count = Math.max(1, Math.floor((n * (value ?? 100)) / 100));
      break;
    case 'random-max-percent': {
      const max = Math.max(1, Math.floor((n * (value ?? 100)) / 100));
      count = 1 + Math.floor(rnd() * max);
      break;
    }
    default: {
      const never: never = mode;
      throw new Error(`unknown mode ${String(never)}`);
    }
  }
  return pool.slice(0, Math.min(count, n));
}

/** Picks one app among candidates (empty selector = any allowed app, like the reference's namespace-wide kill). */
export function pickOne<T>(items: T[], seed: number): T | undefined {
  if (items.length === 0) return undefined;
  return items[Math.floor(mulberry32(seed)() * items.length)];
}

/** Where a fault lands: the service, its namespace, the pods picked and the service's pods before the fault. */
export interface SelectedTarget {
  namespace: string;
  app: string;
  /** The picked pods (the fault's `pods`). */
  pods: PodInfo[];
  /** Every pod of the picked service the listing saw (readiness before the fault is read from these). */
  candidates: PodInfo[];
}

/** Why no target: the fault-log event it becomes (`rejected` by the guard, `failed` otherwise) and its target. */
export interface NoTarget {
  ev: 'rejected' | 'failed';
  error: string;
  target?: { namespace: string; app: string; pods: string[] };
}

export interface SelectionInput {
  selector: FaultSelector;
  mode: FaultMode;
  value?: number;
  guard: GuardConfig;
  /** Seeds the service choice when the selector names none: `hash32(chaosSeed:faultId:app)`. */
  chaosSeed: number;
  faultId: string;
  /** Seeds the pod choice (the planned fault's seed), so a retry picks the same pods. */
  podSeed: number;
  /** The target's pods matching labels (the injector's listPods). */
  listPods(labels: Record<string, string>): Promise<PodInfo[]>;
  /** Which in-scope services this kind may hit (the injector's eligibleApps: HTTP kinds on HTTP apps). */
  eligibleApps?(apps: string[]): string[];
}

/**
 * Selection, written once (after Chaos Mesh's pkg/selector): the selector's labels (`app` is shorthand for
 * `labels.app`), namespace and explicit pods filter the target's pods; with no app named, one in-scope service the
 * kind may hit is picked by seed; the guard checks the target; the mode picks pods among that service's running
 * pods in allowed namespaces. Same seeds and pod set → same picks (recorded histories and the fault log depend
 * on it).
 */
export async function selectTarget(input: SelectionInput): Promise<SelectedTarget | NoTarget> {
  const { selector, guard } = input;
  const labels: Record<string, string> = { ...selector.labels };
  if (selector.app) labels.app = selector.app;
  let pods: PodInfo[];
  try {
    pods = await input.listPods(labels);
  } catch (err) {
    return { ev: 'failed', error: `could not list pods: ${(err as Error).message}` };
  }
  if (selector.namespace) pods = pods.filter((p) => p.namespace === selector.namespace);
  if (selector.pods) pods = pods.filter((p) => selector.pods?.includes(p.name));
  let app = labels.app;
  if (!app) {
    // no app named: pick one in-scope service at random (the reference kills any pod of the namespace)
    const apps = [...new Set(pods.map((p) => p.labels.app ?? ''))]
      .filter((a) => a && !isPlatformService(a, guard) && (!guard.allowedServices || guard.allowedServices.includes(a)))
      .sort();
    const inScope = apps.filter((a) =>
      pods.some((p) => p.labels.app === a && guard.allowedNamespaces.includes(p.namespace)),
    );
    const eligible = input.eligibleApps ? input.eligibleApps(inScope) : inScope;
    app = pickOne(eligible, hash32(`${input.chaosSeed}:${input.faultId}:app`));
    if (!app)
      return {
        ev: 'failed',
        error: `no target selected: no in-scope service has pods (selector ${JSON.stringify(labels)})`,
      };
  }
  const candidates = pods.filter((p) => p.labels.app === app);
  const namespace = candidates[0]?.namespace ?? selector.namespace ?? '';
  const targetRefusal = checkTarget(guard, { namespace, app });
  if (targetRefusal) return { ev: 'rejected', error: targetRefusal, target: { namespace, app, pods: [] } };
  const selectable = candidates.filter((p) => guard.allowedNamespaces.includes(p.namespace) && p.phase !== 'Failed');
  const chosen = selectPods(selectable, input.mode, input.value, input.podSeed);
  if (chosen.length === 0)
    return {
      ev: 'failed',
      error: `no target selected: service "${app}" has no running pods`,
      target: { namespace, app, pods: [] },
    };
  return { namespace, app, pods: chosen, candidates };
}
