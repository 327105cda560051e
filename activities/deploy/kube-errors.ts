/**
 * Errors of the Kubernetes target. Each `name` is the Temporal failure type an activity reports, so
 * workflows can list the permanent ones in `nonRetryableErrorTypes` (KUBE_NON_RETRYABLE_ERRORS).
 */

/** The API server's `Status` body (meta/v1), as it answers 4xx/5xx. */
export interface KubeStatus {
  kind?: 'Status';
  apiVersion?: string;
  status?: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

/** What a request was doing, in RBAC terms: enough to say which permission is missing. */
export interface KubeOperation {
  verb: 'get' | 'list' | 'watch' | 'create' | 'patch' | 'update' | 'delete';
  /** plural resource, e.g. 'deployments'; a subresource as RBAC names it, e.g. 'pods/portforward' */
  resource: string;
  /** API group; '' for the core group */
  group: string;
  namespace?: string;
  name?: string;
}

export function describeOperation(op: KubeOperation): string {
  const res = op.group ? `${op.resource}.${op.group}` : op.resource;
  const obj = op.name ? ` "${op.name}"` : '';
  const where = op.namespace ? ` in namespace "${op.namespace}"` : ' (cluster-scoped)';
  return `${op.verb} ${res}${obj}${where}`;
}

/** Any non-2xx answer that is not one of the specific cases below. */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  constructor(
    message: string,
    readonly statusCode: number,
    readonly op: KubeOperation,
    readonly status?: KubeStatus,
  ) {
    super(message);
  }
}

/** 403: names the verb, the resource and the namespace, and where the RBAC that grants it lives. */
export class KubeForbiddenError extends KubeApiError {
  override name = 'KubeForbidden';
  constructor(op: KubeOperation, status?: KubeStatus) {
    const server = status?.message ? ` The API server said: ${status.message}` : '';
    super(
      `Kubernetes denied permission to ${describeOperation(op)} (403 Forbidden; RBAC verb "${op.verb}" on resource ` +
        `"${op.resource}" in API group "${op.group}"${op.namespace ? ` in namespace "${op.namespace}"` : ''}).${server} ` +
        `Grant it to the identity faultline runs as: apply infra/k8s/rbac (kubectl apply -k infra/k8s/rbac, ` +
        `see docs/kubernetes.md), or point target.kubeconfig at a user that has it.`,
      403,
      op,
      status,
    );
  }
}

/**
 * 422: the API server's validation (a CRD's OpenAPI schema, a built-in type's rules) refused the object. The
 * message carries the server's own field messages, e.g. `spec.action: Unsupported value: "pod-delete"`.
 */
export class KubeInvalidObjectError extends KubeApiError {
  override name = 'KubeInvalidObject';
  constructor(op: KubeOperation, status?: KubeStatus) {
    const causes = (status?.details?.causes ?? [])
      .map((c) => `${c.field ? `${c.field}: ` : ''}${c.message ?? c.reason ?? ''}`)
      .filter((c) => c.length > 0);
    super(
      `Kubernetes refused to ${describeOperation(op)}: the object is invalid (422). ` +
        `${status?.message ?? 'no message from the API server'}` +
        `${causes.length > 1 ? ` [fields: ${causes.join('; ')}]` : ''}`,
      422,
      op,
      status,
    );
  }
}

/** The API server could not be reached (refused, reset, timed out) within the retry budget. */
export class KubeUnreachableError extends Error {
  override name = 'KubeUnreachable';
  constructor(
    readonly op: KubeOperation,
    readonly server: string,
    readonly code: string,
    detail: string,
  ) {
    super(`Kubernetes API server ${server} unreachable while trying to ${describeOperation(op)}: ${detail}`);
  }
}

/** 401: the credentials in the kubeconfig were rejected. */
export class KubeUnauthorizedError extends KubeApiError {
  override name = 'KubeUnauthorized';
  constructor(op: KubeOperation, status?: KubeStatus) {
    super(
      `Kubernetes rejected the credentials while trying to ${describeOperation(op)} (401 Unauthorized). ` +
        `Refresh the kubeconfig user's token/certificate or set target.kubeconfig / target.context.`,
      401,
      op,
      status,
    );
  }
}

/** No kubeconfig file and not running in a pod: says where it looked and how to point at one. */
export class KubeConfigMissingError extends Error {
  override name = 'KubeConfigMissing';
  constructor(
    readonly searched: string[],
    detail?: string,
  ) {
    super(
      `No Kubernetes credentials found${detail ? ` (${detail})` : ''}. Looked in: ${searched.join('; ')}. ` +
        `Set target.kubeconfig in the campaign config to a kubeconfig file (and target.context to pick a context), ` +
        `set $KUBECONFIG, or run the worker in a pod with a service account (in-cluster config).`,
    );
  }
}

/** The chaos-mesh.org group (or one of its kinds) is not served: the CRDs are not installed. */
export class ChaosMeshNotInstalledError extends Error {
  override name = 'ChaosMeshNotInstalled';
  constructor(what: string) {
    super(
      `Chaos Mesh is not installed in this cluster: ${what}. Install it (CRDs + controller): ` +
        `helm repo add chaos-mesh https://charts.chaos-mesh.org && ` +
        `helm install chaos-mesh chaos-mesh/chaos-mesh -n chaos-mesh --create-namespace --version 2.8.3 ` +
        `(see docs/kubernetes.md).`,
    );
  }
}

/** Blast-radius guard: the campaign may only act in the namespaces it was allowed. */
export class NamespaceNotAllowedError extends Error {
  override name = 'NamespaceNotAllowed';
  constructor(namespace: string, allowed: readonly string[], what: string) {
    super(
      `Refusing to ${what} in namespace "${namespace}": it is not in target.allowedNamespaces ` +
        `[${allowed.map((n) => `"${n}"`).join(', ')}]. Add it there if this is intended.`,
    );
  }
}

/**
 * A cluster-internal frontendUrl/prometheusUrl could not be reached and the automatic port-forward to its
 * Service could not be set up either (or target.portForward is false). Says what was tried and the ways out.
 */
export class PortForwardError extends Error {
  override name = 'PortForwardFailed';
}

/** A manifest object faultline refuses or cannot map (cluster-scoped kinds, unknown kinds, bad YAML). */
export class ManifestError extends Error {
  override name = 'InvalidManifest';
}

/** waitReady ran out of time: lists each Deployment that is not rolled out and why. */
export class RolloutTimeoutError extends Error {
  override name = 'RolloutTimeout';
}

/** A Deployment reported ProgressDeadlineExceeded: waiting longer will not help. */
export class RolloutFailedError extends Error {
  override name = 'RolloutFailed';
}

/** Failure types no retry can fix; pass to `retry.nonRetryableErrorTypes`. */
export const KUBE_NON_RETRYABLE_ERRORS = [
  'KubeForbidden',
  'KubeUnauthorized',
  'KubeConfigMissing',
  'ChaosMeshNotInstalled',
  'NamespaceNotAllowed',
  'InvalidManifest',
  'RolloutFailed',
  'KubeInvalidObject',
] as const;
