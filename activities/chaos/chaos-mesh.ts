import { createHash } from 'node:crypto';
import { formatDuration } from '../../schemas/duration';
import type { FaultType } from '../../schemas/faults';
import type { KubernetesTargetConfig } from '../../schemas/target';
import type { KubeObject } from '../deploy/kube-objects';
import { CAMPAIGN_LABEL, campaignLabelValue } from '../deploy/kube-objects';
import {
  KubernetesTarget,
  CHAOS_MESH_API_VERSION,
  CHAOS_MESH_PLURALS,
  LOAD_GENERATOR_APP,
  type RemoveResult,
} from '../deploy/kubernetes-target';
import type { PodInfo } from '../deploy/types';
import type { ChaosMeshContext, ChaosMeshKindName, ResolvedFault } from './kinds/kind';
import { FAULT_KINDS, kindOf, withKindParams } from './kinds/registry';
import { podsBackFrom } from './pods-back';
import type { Injector } from './injector';

export const FAULT_ID_LABEL = 'faultline.io/fault-id';
/** The fault id exactly as the fault log writes it (the label is lower-cased). */
export const FAULT_ID_ANNOTATION = 'faultline.io/fault-id';

/** The Chaos Mesh kind each fault type becomes (from the registry). */
export const CHAOS_KIND = Object.fromEntries(FAULT_KINDS.map((k) => [k.type, k.chaosMesh.kind])) as Record<
  FaultType,
  ChaosMeshKindName
>;
const PLURAL: Record<ChaosMeshKindName, string> = {
  PodChaos: 'podchaos',
  NetworkChaos: 'networkchaos',
  StressChaos: 'stresschaos',
  HTTPChaos: 'httpchaos',
  Workflow: 'workflows',
};

/** Container ports of the upstream Online Boutique services (HTTPChaos needs a port; the webhook rejects ≤ 0). */
export const BOUTIQUE_PORTS: Record<string, number> = {
  frontend: 8080,
  cartservice: 7070,
  productcatalogservice: 3550,
  currencyservice: 7000,
  paymentservice: 50051,
  shippingservice: 50051,
  emailservice: 8080,
  checkoutservice: 5050,
  recommendationservice: 8080,
  adservice: 9555,
};

/** A DNS-1123 name that is the same on every retry: fl-<fault id>-<campaign hash>. */
export function chaosObjectName(campaignId: string, faultId: string): string {
  const h = createHash('sha256').update(campaignId).digest('hex').slice(0, 10);
  return `fl-${faultId.toLowerCase().replace(/[^a-z0-9-]/g, '-')}-${h}`.slice(0, 63).replace(/-+$/, '');
}

/** Labels and annotations that tie an object to its campaign and fault (sweep and `find` select by them). */
function objectMeta(fault: ResolvedFault, name: string): KubeObject['metadata'] {
  return {
    name,
    namespace: fault.namespace,
    labels: { [CAMPAIGN_LABEL]: campaignLabelValue(fault.campaignId), [FAULT_ID_LABEL]: fault.id.toLowerCase() },
    annotations: {
      'faultline.io/campaign-id': fault.campaignId,
      [FAULT_ID_ANNOTATION]: fault.id,
      'faultline.io/planned-ms': String(fault.plannedMs),
    },
  };
}

/** What every kind's spec builder gets: the picked pods as a selector, the duration, the apps' ports. */
function chaosMeshContext(fault: ResolvedFault): ChaosMeshContext {
  const durationMs = Math.max(1000, fault.endMs - fault.plannedMs);
  return {
    base: { mode: 'all', selector: { pods: { [fault.namespace]: fault.pods.map((x) => x.name) } } },
    duration: formatDuration(Math.round(durationMs)),
    portOf: (app) => BOUTIQUE_PORTS[app] ?? 8080,
  };
}

/**
 * The Chaos Mesh objects of one resolved fault: its kind's main object first, then the kind's extra objects. The
 * engine already chose the pods (seeded, logged), so the selector names them (`selector.pods`) with mode `all`:
 * Chaos Mesh hits exactly the pods in the log.
 */
export function chaosMeshObjects(
  fault: ResolvedFault,
  opts: { lenient?: boolean } = {},
): (KubeObject & { offsetMs: number })[] {
  const kind = kindOf(fault.type);
  const typed = { ...fault, params: withKindParams<Record<string, unknown>>(kind, fault, opts) };
  const ctx = chaosMeshContext(fault);
  const name = chaosObjectName(fault.campaignId, fault.id);
  const main = {
    apiVersion: CHAOS_MESH_API_VERSION,
    kind: kind.chaosMesh.kind,
    metadata: objectMeta(fault, name),
    spec: kind.chaosMesh.spec(typed, ctx),
    offsetMs: 0,
  };
  const extra = (kind.chaosMesh.extraObjects?.(typed, ctx) ?? []).map((part) => ({
    apiVersion: CHAOS_MESH_API_VERSION,
    kind: part.kind,
    metadata: objectMeta(fault, `${name.slice(0, 62 - part.suffix.length)}-${part.suffix}`),
    spec: part.spec,
    offsetMs: part.offsetMs ?? 0,
  }));
  return [main, ...extra];
}

/**
 * Kind and name of each of a fault's objects, for removal and lookups: what chaosMeshObjects gives, or (a logged
 * fault whose spec cannot be rebuilt any more) the main object, whose kind and name depend on its type and id only.
 */
function objectRefs(fault: ResolvedFault): { kind: ChaosMeshKindName; name: string }[] {
  try {
    return chaosMeshObjects(fault, { lenient: true }).map((o) => ({
      kind: o.kind as ChaosMeshKindName,
      name: o.metadata.name ?? '',
    }));
  } catch {
    return [{ kind: kindOf(fault.type).chaosMesh.kind, name: chaosObjectName(fault.campaignId, fault.id) }];
  }
}

/** The fault's main Chaos Mesh object (chaosMeshObjects' first). */
export function chaosMeshObject(fault: ResolvedFault): KubeObject {
  const { offsetMs: _offset, ...obj } = chaosMeshObjects(fault)[0] as KubeObject & { offsetMs: number };
  return obj;
}

/** What the injector needs from the Kubernetes target (KubernetesTarget implements it). */
export interface ChaosObjectClient {
  listPods(selector: Record<string, string>): Promise<PodInfo[]>;
  createCustomObject(obj: KubeObject): Promise<KubeObject>;
  deleteCustomObject(kind: string, name: string, opts?: { namespace?: string }): Promise<boolean>;
  /** deleteCustomObject with a report (finalizers removed because the Chaos Mesh controller is gone). */
  removeCustomObject?(
    kind: string,
    name: string,
    opts?: { namespace?: string; waitForFinalizers?: boolean },
  ): Promise<RemoveResult>;
  listCustomObjects(group: string, version: string, plural: string, labelSel?: string): Promise<KubeObject[]>;
}

export interface KubernetesInjectorOptions {
  /** target.loadGenerator: the upstream loadgenerator's pods may be fault targets (default false: never). */
  loadGenerator?: boolean;
}

const injectedCount = (obj: KubeObject) => {
  const exp = (obj.status as { experiment?: { containerRecords?: { injectedCount?: number }[] } } | undefined)
    ?.experiment;
  return (exp?.containerRecords ?? []).reduce((n, r) => n + (r.injectedCount ?? 0), 0);
};

/** Faults as Chaos Mesh objects, created and deleted through the Kubernetes target. */
export class KubernetesInjector implements Injector {
  readonly kind = 'kubernetes' as const;
  /** Notes of removals that needed more than a delete (finalizers removed by force), for purge's output. */
  readonly notes: string[] = [];
  /** The same, by fault id, not yet handed to the fault log (sweep found them; takeRemovalNotes). */
  private pendingNotes: { faultId?: string; note: string }[] = [];
  constructor(
    private readonly client: ChaosObjectClient,
    private readonly opts: KubernetesInjectorOptions = {},
  ) {}

  async listPods(selector: Record<string, string>) {
    const pods = await this.client.listPods(selector);
    return this.opts.loadGenerator ? pods : pods.filter((p) => p.labels.app !== LOAD_GENERATOR_APP);
  }
  eligibleApps(_type: FaultType, apps: string[]): string[] {
    return this.opts.loadGenerator ? apps : apps.filter((a) => a !== LOAD_GENERATOR_APP);
  }
  /**
   * Deletes one of this campaign's objects; answers the note when its finalizers had to be removed. `final`:
   * wait until it is really gone (Chaos Mesh recovers the fault, then drops its finalizer), removing the
   * finalizers if the controller does not; otherwise the delete is issued and the controller finishes it.
   */
  private async remove(
    kind: string,
    name: string,
    namespace: string | undefined,
    final: boolean,
  ): Promise<{ deleted: boolean; note?: string }> {
    if (!this.client.removeCustomObject)
      return { deleted: await this.client.deleteCustomObject(kind, name, { namespace }) };
    const out = await this.client.removeCustomObject(kind, name, { namespace, waitForFinalizers: final });
    if (out.note) this.notes.push(out.note);
    return out;
  }
  takeRemovalNotes(): { faultId?: string; note: string }[] {
    const out = this.pendingNotes;
    this.pendingNotes = [];
    return out;
  }
  // every Chaos Mesh object is deleted at its end time (the reference left them piling up)
  oneShot(_type: FaultType) {
    return false;
  }
  async apply(f: ResolvedFault) {
    const objects = chaosMeshObjects(f);
    const later = objects.find((o) => o.offsetMs > 0);
    if (later)
      throw new Error(
        `${f.type} ${f.id}: its Chaos Mesh object ${later.metadata.name ?? ''} starts ${later.offsetMs} ms after ` +
          'the fault; objects with a start offset are not supported by the Kubernetes injector yet ' +
          '(docs/fault-kinds.md, "Sequences over time")',
      );
    for (const { offsetMs: _offset, ...obj } of objects) await this.client.createCustomObject(obj);
  }
  async recover(f: ResolvedFault, opts: { final?: boolean } = {}): Promise<string | void> {
    const notes: string[] = [];
    for (const obj of objectRefs(f)) {
      const note = (await this.remove(obj.kind, obj.name, f.namespace, opts.final === true)).note;
      if (note) notes.push(note);
    }
    return notes.length ? notes.join('; ') : undefined;
  }
  /** The fault's objects the cluster still has, of each Chaos Mesh kind its objects use. */
  private async find(f: ResolvedFault): Promise<KubeObject[]> {
    const kinds = [...new Set(objectRefs(f).map((o) => o.kind))];
    const [group, version] = CHAOS_MESH_API_VERSION.split('/') as [string, string];
    const found: KubeObject[] = [];
    for (const kind of kinds)
      found.push(
        ...(await this.client.listCustomObjects(
          group,
          version,
          PLURAL[kind],
          `${FAULT_ID_LABEL}=${f.id.toLowerCase()},${CAMPAIGN_LABEL}=${campaignLabelValue(f.campaignId)}`,
        )),
      );
    return found;
  }
  async isApplied(f: ResolvedFault) {
    const [obj] = await this.find(f);
    return obj !== undefined && (kindOf(f.type).chaosMesh.applied !== 'injected' || injectedCount(obj) > 0);
  }
  async recovered(f: ResolvedFault, removedMs: number) {
    if ((await this.find(f)).length > 0) return false;
    if (kindOf(f.type).chaosMesh.recovery === 'pods-back')
      return podsBackFrom(await this.client.listPods({ app: f.app }), f, removedMs);
    return true;
  }
  async sweep(campaignId: string): Promise<number> {
    let n = 0;
    const [group, version] = CHAOS_MESH_API_VERSION.split('/') as [string, string];
    for (const plural of CHAOS_MESH_PLURALS) {
      for (const obj of await this.client.listCustomObjects(
        group,
        version,
        plural,
        `${CAMPAIGN_LABEL}=${campaignLabelValue(campaignId)}`,
      )) {
        const out = await this.remove(obj.kind, obj.metadata.name ?? '', obj.metadata.namespace, true);
        if (out.deleted) n++;
        if (out.note)
          this.pendingNotes.push({ faultId: obj.metadata.annotations?.[FAULT_ID_ANNOTATION], note: out.note });
      }
    }
    return n;
  }
}

export function createKubernetesInjector(target: KubernetesTargetConfig, campaignId: string): KubernetesInjector {
  return new KubernetesInjector(new KubernetesTarget(target, campaignId), { loadGenerator: target.loadGenerator });
}
