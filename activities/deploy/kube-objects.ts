import { createHash } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { ManifestError } from './kube-errors';
import type { PodInfo } from './types';

/** Label on every object a campaign creates; teardown deletes by it and nothing else. */
export const CAMPAIGN_LABEL = 'faultline.io/campaign';
/** The full campaign id (label values are limited to 63 characters of [A-Za-z0-9-_.]). */
export const CAMPAIGN_ANNOTATION = 'faultline.io/campaign-id';
/** Server-side apply field manager. */
export const FIELD_MANAGER = 'faultline';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
}

/** Any Kubernetes object, as JSON. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface KubeList<T = KubeObject> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** Identifies one applied or created object (what teardown and reports name). */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export const refString = (r: ObjectRef) => `${r.kind}/${r.namespace ? `${r.namespace}/` : ''}${r.name}`;

/** A valid label value for any campaign id: the id itself when it fits, else a readable prefix + hash. */
export function campaignLabelValue(campaignId: string): string {
  if (/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(campaignId)) return campaignId;
  const hash = createHash('sha256').update(campaignId).digest('hex').slice(0, 10);
  const prefix = campaignId
    .replace(/[^-A-Za-z0-9_.]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 52)
    .replace(/[^A-Za-z0-9]+$/, '');
  return prefix ? `${prefix}-${hash}` : hash;
}

/** `{a: 'b', c: 'd'}` → `a=b,c=d` (equality-based selector, all must match). */
export function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Parses a multi-document YAML manifest into objects, skipping empty documents and unrolling `List`s. */
export function parseManifest(yamlText: string, source: string): KubeObject[] {
  const out: KubeObject[] = [];
  const docs = parseAllDocuments(yamlText);
  if (!Array.isArray(docs)) throw new ManifestError(`${source}: not a YAML stream`);
  docs.forEach((doc, i) => {
    if (doc.errors.length > 0)
      throw new ManifestError(`${source}: document ${i + 1}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    const objs =
      isObject(value) && value.kind === 'List' && Array.isArray(value.items) ? (value.items as unknown[]) : [value];
    for (const o of objs) {
      if (
        !isObject(o) ||
        typeof o.apiVersion !== 'string' ||
        typeof o.kind !== 'string' ||
        !isObject(o.metadata) ||
        typeof o.metadata.name !== 'string'
      ) {
        throw new ManifestError(
          `${source}: document ${i + 1} is not a Kubernetes object with apiVersion, kind and metadata.name`,
        );
      }
      out.push(o as unknown as KubeObject);
    }
  });
  return out;
}

/** Returns a copy carrying the campaign label/annotation (and on pod templates, so pods carry it too). */
export function withCampaignLabel(obj: KubeObject, campaignId: string, namespace?: string): KubeObject {
  const copy = structuredClone(obj);
  const value = campaignLabelValue(campaignId);
  copy.metadata.labels = { ...(copy.metadata.labels ?? {}), [CAMPAIGN_LABEL]: value };
  copy.metadata.annotations = { ...(copy.metadata.annotations ?? {}), [CAMPAIGN_ANNOTATION]: campaignId };
  if (namespace !== undefined) copy.metadata.namespace = namespace;
  const template = copy.spec?.template;
  if (isObject(template)) {
    const meta = (isObject(template.metadata) ? template.metadata : (template.metadata = {})) as ObjectMeta;
    meta.labels = { ...(meta.labels ?? {}), [CAMPAIGN_LABEL]: value };
  }
  return copy;
}

export interface RolloutState {
  ready: boolean;
  /** ProgressDeadlineExceeded: waiting longer will not help. */
  failed: boolean;
  reason: string;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** Rollout state of a Deployment by its conditions and counters (the checks `kubectl rollout status` makes). */
export function rolloutState(d: KubeObject): RolloutState {
  const st = (d.status ?? {}) as {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: Condition[];
  };
  const gen = d.metadata.generation ?? 0;
  if ((st.observedGeneration ?? -1) < gen) {
    return { ready: false, failed: false, reason: `controller has not observed generation ${gen} yet` };
  }
  const progressing = st.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      ready: false,
      failed: true,
      reason: `ProgressDeadlineExceeded: ${progressing.message ?? 'rollout stalled'}`,
    };
  }
  const want = typeof d.spec?.replicas === 'number' ? d.spec.replicas : 1;
  const updated = st.updatedReplicas ?? 0;
  const total = st.replicas ?? 0;
  const available = st.availableReplicas ?? 0;
  if (updated < want) return { ready: false, failed: false, reason: `${updated} of ${want} replicas updated` };
  if (total > updated)
    return { ready: false, failed: false, reason: `${total - updated} old replicas pending termination` };
  if (available < updated)
    return { ready: false, failed: false, reason: `${available} of ${updated} updated replicas available` };
  const availableCond = st.conditions?.find((c) => c.type === 'Available');
  if (want > 0 && availableCond?.status !== 'True') {
    return {
      ready: false,
      failed: false,
      reason: `Available condition is ${availableCond?.status ?? 'missing'}${availableCond?.reason ? ` (${availableCond.reason})` : ''}`,
    };
  }
  return { ready: true, failed: false, reason: 'rolled out' };
}

/** A Pod object → the target-independent PodInfo. */
export function toPodInfo(p: KubeObject): PodInfo {
  const st = (p.status ?? {}) as {
    phase?: PodInfo['phase'];
    startTime?: string;
    conditions?: Condition[];
    containerStatuses?: {
      restartCount?: number;
      ready?: boolean;
      state?: { waiting?: { reason?: string }; terminated?: { reason?: string } };
    }[];
  };
  const containers = st.containerStatuses ?? [];
  const reason =
    containers.map((c) => c.state?.waiting?.reason ?? c.state?.terminated?.reason).find((r) => r !== undefined) ??
    (p.metadata.deletionTimestamp ? 'Terminating' : undefined);
  const info: PodInfo = {
    name: p.metadata.name ?? '',
    uid: p.metadata.uid ?? '',
    namespace: p.metadata.namespace ?? '',
    labels: p.metadata.labels ?? {},
    phase: st.phase ?? 'Unknown',
    ready: st.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    restarts: containers.reduce((n, c) => n + (c.restartCount ?? 0), 0),
  };
  if (reason !== undefined) info.reason = reason;
  // Objects from client-node's typed lists carry Dates; watch events carry RFC 3339 strings.
  const started = st.startTime as string | Date | undefined;
  if (started) info.startedAtMs = started instanceof Date ? started.getTime() : Date.parse(started);
  const created = p.metadata.creationTimestamp as string | Date | undefined;
  if (created) info.createdAtMs = created instanceof Date ? created.getTime() : Date.parse(created);
  return info;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
