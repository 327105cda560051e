import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { targetSchema } from '../../schemas/target';
import { StackConfigError, StackStartError } from '../../infra/local/stack';
import { createTarget, TargetNotAvailableError } from './create-target';
import { KUBE_NON_RETRYABLE_ERRORS } from './kube-errors';
import type { LocalTargetOptions } from './local-target';
import type { DeployInput, TargetEndpoints, TeardownInput } from './types';

export { createTarget, TargetNotAvailableError } from './create-target';
export { LocalTarget } from './local-target';
export type { Target } from './target';
export type { DeployInput, TeardownInput, TargetEndpoints, PodInfo } from './types';

export interface DeployDeps {
  /** FAULTLINE_HOME: the local stack lives in <home>/stack and is shared by campaigns. */
  home: string;
  /** Local stack tuning (binary paths, supervisor back-off/readiness); part of the stack's identity. */
  localStack?: LocalTargetOptions['stack'];
}

/** Heartbeats the latest progress line every second, so a long start/readiness wait keeps the activity alive. */
function heartbeatLoop(ctx: Context): { progress: (msg: string) => void; stop: () => void } {
  let last = 'starting';
  ctx.heartbeat({ progress: last });
  const timer = setInterval(() => ctx.heartbeat({ progress: last }), 1000);
  return {
    progress: (msg) => {
      last = msg;
      ctx.heartbeat({ progress: msg }); // the SDK throttles heartbeats; this keeps the latest step visible
      ctx.log.info(msg);
    },
    stop: () => clearInterval(timer),
  };
}

function toFailure(err: unknown): unknown {
  if (err instanceof StackStartError && err.reason !== 'failed') {
    return ApplicationFailure.nonRetryable(err.message, 'NotAvailable');
  }
  if (err instanceof StackConfigError) return ApplicationFailure.nonRetryable(err.message, 'InvalidConfig');
  if (err instanceof TargetNotAvailableError) return ApplicationFailure.nonRetryable(err.message, 'NotAvailable');
  // Kubernetes target: no retry fixes RBAC, missing credentials, missing Chaos Mesh or a refused namespace.
  if (err instanceof Error && (KUBE_NON_RETRYABLE_ERRORS as readonly string[]).includes(err.name)) {
    return ApplicationFailure.nonRetryable(err.message, err.name);
  }
  return err;
}

/**
 * deployTarget / teardownTarget. Both are idempotent: the local stack is found by its pid files and readiness
 * checks (a retried deploy reuses what the first attempt started); Kubernetes applies server-side.
 */
export function createDeployActivities(deps: DeployDeps) {
  return {
    deployTarget: async (input: DeployInput): Promise<TargetEndpoints> => {
      const ctx = Context.current();
      const parsed = targetSchema.safeParse(input.target);
      if (!parsed.success) {
        throw ApplicationFailure.nonRetryable(`invalid target config: ${parsed.error.message}`, 'InvalidConfig');
      }
      const hb = heartbeatLoop(ctx);
      try {
        const target = createTarget(parsed.data, input.campaignId, {
          home: deps.home,
          onProgress: hb.progress,
          stack: deps.localStack,
        });
        return await target.deploy(ctx.cancellationSignal);
      } catch (err) {
        throw toFailure(err);
      } finally {
        hb.stop();
      }
    },

    teardownTarget: async (input: TeardownInput): Promise<void> => {
      const ctx = Context.current();
      const parsed = targetSchema.safeParse(input.target);
      if (!parsed.success) {
        throw ApplicationFailure.nonRetryable(`invalid target config: ${parsed.error.message}`, 'InvalidConfig');
      }
      if (input.keepStack && parsed.data.type === 'local') return; // the stack is shared: nothing per campaign
      const hb = heartbeatLoop(ctx);
      try {
        await createTarget(parsed.data, input.campaignId, {
          home: deps.home,
          onProgress: hb.progress,
          stack: deps.localStack,
        }).teardown();
      } catch (err) {
        throw toFailure(err);
      } finally {
        hb.stop();
      }
    },
  };
}
