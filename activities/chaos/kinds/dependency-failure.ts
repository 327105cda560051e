import { z } from 'zod';
import { defineKind, type SpecIssue } from './kind';

const params = z
  .object({
    /** The app (its `app` label) the selected caller can no longer reach. */
    dependency: z
      .string({
        error: 'dependency-failure needs `dependency`: the app the caller cannot reach, e.g. "productcatalogservice"',
      })
      .regex(
        /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
        'must be an app label (a DNS-1123 name such as "productcatalogservice")',
      ),
  })
  .strict();
type Params = z.output<typeof params>;

/** The caller must not be its own dependency (a partition from an app to itself is no dependency failure). */
function selfDependency(caller: string | undefined, p: Params): SpecIssue | undefined {
  if (caller === undefined || caller !== p.dependency) return undefined;
  return {
    path: ['params', 'dependency'],
    message:
      `dependency "${p.dependency}" is the selected caller itself; name another app the caller calls ` +
      '(the selector picks the caller, `dependency` the service it cannot reach)',
  };
}

function assertNotSelf(fault: { id: string; app: string; params: Params }): void {
  const issue = selfDependency(fault.app, fault.params);
  if (issue) throw new Error(`fault ${fault.id} (dependency-failure): params.dependency: ${issue.message}`);
}

/** Errors of the supervisor client carry the HTTP status (kinds may not import the client at runtime). */
const statusOf = (err: unknown) => (err as { status?: unknown }).status;

/**
 * dependency-failure: the selected (caller) service cannot reach one named dependency; every other caller still
 * can. Chaos Mesh: a NetworkChaos partition on the caller's pods with the dependency as `target`. Locally the
 * supervisor's `partition` fault on the dependency black-holes the caller's own route to it (infra/local
 * AppSpec.routes; the call graph is DEPENDENCIES in infra/local/ports.ts): its calls hang until their deadline.
 * Routes are per app, so locally every pod of the caller is cut, whichever of them the selector picked.
 * The root cause for localisation is the dependency, not the caller that shows the errors.
 */
export const dependencyFailure = defineKind({
  type: 'dependency-failure',
  params,
  example: { dependency: 'productcatalogservice' },
  doc: 'Cuts the selected (caller) service off from one named `dependency` while other callers still reach it (NetworkChaos partition, target = the dependency); the root cause is the dependency.',
  report: { label: 'dependency failure', color: '#78716c' },
  services: 'any',
  rootCause: (f) => f.params.dependency || f.app,
  checkSpec: (spec) => selfDependency(spec.selector.app, spec.params),
  local: {
    oneShot: false,
    timed: true,
    hostProcess: false,
    prepare(_ctx, fault) {
      // the planned line records both ends of the cut link
      fault.detail.caller = fault.app;
      fault.detail.dependency = fault.params.dependency;
    },
    async apply(ctx, fault) {
      assertNotSelf(fault);
      try {
        await ctx.supervisor.putProxyFault(fault.params.dependency, fault.key, {
          kind: 'partition',
          from: fault.app,
          expiresAtMs: fault.endMs,
        });
      } catch (err) {
        // 400: the caller has no route of its own to the dependency (the message names the callers that have)
        if (statusOf(err) === 400)
          throw new Error(
            `fault ${fault.id} (dependency-failure): ${fault.app} cannot be cut from ${fault.params.dependency} on ` +
              `the local target: ${(err as Error).message}`,
            { cause: err },
          );
        throw err;
      }
    },
    async recover(ctx, fault) {
      await ctx.supervisor.deleteProxyFault(fault.params.dependency, fault.key);
    },
    async recovered(ctx, fault) {
      const active = await ctx.supervisor.listProxyFaults();
      return !active.some((f) => f.faultId === fault.key && f.app === fault.params.dependency);
    },
    async isApplied(ctx, fault) {
      const active = await ctx.supervisor.listProxyFaults();
      return active.some((f) => f.faultId === fault.key);
    },
  },
  chaosMesh: {
    kind: 'NetworkChaos',
    spec: (fault, ctx) => {
      assertNotSelf(fault);
      return {
        action: 'partition',
        ...ctx.base,
        direction: 'to',
        target: {
          mode: 'all',
          selector: { namespaces: [fault.namespace], labelSelectors: { app: fault.params.dependency } },
        },
        duration: ctx.duration,
      };
    },
    recovery: 'object-gone',
    applied: 'exists',
  },
});
