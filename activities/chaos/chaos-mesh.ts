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
import type { ResolvedFault } from './faults';
import { podsBackFrom } from './pods-back';
import type { Injector } from './injector';

export const FAULT_ID_LABEL = 'faultline.io/fault-id';
/** The fault id exactly as the fault log writes it (the label is lower-cased). */
export const FAULT_ID_ANNOTATION = 'faultline.io/fault-id';

/** The Chaos Mesh kind each fault type becomes. */
export const CHAOS_KIND: Record<FaultType, 'PodChaos' | 'NetworkChaos' | 'StressChaos' | 'HTTPChaos'> = {
  'pod-kill': 'PodChaos',
  'pod-failure': 'PodChaos',
  'network-delay': 'NetworkChaos',
  'network-loss': 'NetworkChaos',
  'cpu-stress': 'StressChaos',
  'memory-stress': 'StressChaos',
  'http-abort': 'HTTPChaos',
  'http-delay': 'HTTPChaos',
};
const PLURAL: Record<string, string> = {
  PodChaos: 'podchaos',
  NetworkChaos: 'networkchaos',
  StressChaos: 'stresschaos',
  HTTPChaos: 'httpchaos',
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

const pct = (v: unknown, d: number) => String(typeof v === 'number' ? v : d);
const str = (v: unknown, d: string) => (typeof v === 'string' ? v : d);

/**
 * The Chaos Mesh object for one resolved fault. The engine already chose the pods (seeded, logged), so the
 * selector names them (`selector.pods`) with mode `all`: Chaos Mesh hits exactly the pods in the log.
 */
export function chaosMeshObject(fault: ResolvedFault): KubeObject {
  const kind = CHAOS_KIND[fault.type];
  const durationMs = Math.max(1000, fault.endMs - fault.plannedMs);
  const duration = formatDuration(Math.round(durationMs));
  const p = fault.params;
  const selector = { pods: { [fault.namespace]: fault.pods.map((x) => x.name) } };
  const base = { mode: 'all', selector };
  let spec: Record<string, unknown>;
  switch (fault.type) {
    case 'pod-kill':
      spec = {
        action: 'pod-kill',
        ...base,
        gracePeriod: typeof p.gracePeriodSeconds === 'number' ? p.gracePeriodSeconds : 0,
      };
      break;
    case 'pod-failure':
      spec = { action: 'pod-failure', ...base, duration };
      break;
    case 'network-delay':
      spec = {
        action: 'delay',
        ...base,
        direction: 'to',
        delay: { latency: str(p.latency, '200ms'), jitter: str(p.jitter, '0ms'), correlation: pct(p.correlation, 0) },
        duration,
      };
      break;
    case 'network-loss':
      spec = {
        action: 'loss',
        ...base,
        direction: 'to',
        loss: { loss: pct(p.loss, 30), correlation: pct(p.correlation, 0) },
        duration,
      };
      break;
    case 'cpu-stress':
      spec = { ...base, stressors: { cpu: { workers: Number(p.workers ?? 1), load: Number(p.load ?? 80) } }, duration };
      break;
    case 'memory-stress':
      spec = {
        ...base,
        stressors: { memory: { workers: Number(p.workers ?? 1), size: str(p.size, '128MB') } },
        duration,
      };
      break;
    case 'http-abort':
    case 'http-delay': {
      spec = {
        ...base,
        target: 'Request',
        port: typeof p.port === 'number' ? p.port : (BOUTIQUE_PORTS[fault.app] ?? 8080),
        ...(typeof p.path === 'string' ? { path: p.path } : {}),
        ...(typeof p.method === 'string' ? { method: p.method } : {}),
        ...(fault.type === 'http-abort' ? { abort: true } : { delay: str(p.delay, '500ms') }),
        duration,
      };
      break;
    }
    default: {
      const never: never = fault.type;
      throw new Error(`no Chaos Mesh kind for ${String(never)}`);
    }
  }
  return {
    apiVersion: CHAOS_MESH_API_VERSION,
    kind,
    metadata: {
      name: chaosObjectName(fault.campaignId, fault.id),
      namespace: fault.namespace,
      labels: { [CAMPAIGN_LABEL]: campaignLabelValue(fault.campaignId), [FAULT_ID_LABEL]: fault.id.toLowerCase() },
      annotations: {
        'faultline.io/campaign-id': fault.campaignId,
        [FAULT_ID_ANNOTATION]: fault.id,
        'faultline.io/planned-ms': String(fault.plannedMs),
      },
    },
    spec,
  };
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
    await this.client.createCustomObject(chaosMeshObject(f));
  }
  async recover(f: ResolvedFault, opts: { final?: boolean } = {}): Promise<string | void> {
    const obj = chaosMeshObject(f);
    return (await this.remove(obj.kind, obj.metadata.name ?? '', f.namespace, opts.final === true)).note;
  }
  private async find(f: ResolvedFault): Promise<KubeObject | undefined> {
    const kind = CHAOS_KIND[f.type];
    const [group, version] = CHAOS_MESH_API_VERSION.split('/') as [string, string];
    const items = await this.client.listCustomObjects(
      group,
      version,
      PLURAL[kind] ?? '',
      `${FAULT_ID_LABEL}=${f.id.toLowerCase()},${CAMPAIGN_LABEL}=${campaignLabelValue(f.campaignId)}`,
    );
    return items[0];
  }
  async isApplied(f: ResolvedFault) {
    const obj = await this.find(f);
    return obj !== undefined && (f.type !== 'pod-kill' || injectedCount(obj) > 0);
  }
  async recovered(f: ResolvedFault, removedMs: number) {
    if (await this.find(f)) return false;
    if (f.type === 'pod-kill' || f.type === 'pod-failure')
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
