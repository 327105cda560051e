import type { TargetConfig, KubernetesTargetConfig } from '../../schemas/target';
import { LocalTarget, type LocalTargetOptions } from './local-target';
import type { Target } from './target';

/** Thrown when this build has no Kubernetes target. */
export class TargetNotAvailableError extends Error {
  override name = 'TargetNotAvailableError';
}

type KubernetesTargetCtor = new (
  config: KubernetesTargetConfig,
  campaignId: string,
  opts?: { log?: (msg: string) => void },
) => Target;

/**
 * The Target for a config. The Kubernetes implementation is loaded at run time, so builds without
 * activities/deploy/kubernetes-target.ts (or without a cluster client) still run local campaigns.
 */
export function createTarget(config: TargetConfig, campaignId: string, localOpts: LocalTargetOptions = {}): Target {
  switch (config.type) {
    case 'local':
      return new LocalTarget(config, campaignId, localOpts);
    case 'kubernetes': {
      let mod: { KubernetesTarget?: KubernetesTargetCtor };
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        mod = require('./kubernetes-target') as { KubernetesTarget?: KubernetesTargetCtor };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String(err).includes('kubernetes-target')) {
          throw new TargetNotAvailableError('kubernetes target is not available in this build');
        }
        throw err;
      }
      if (!mod.KubernetesTarget) throw new TargetNotAvailableError('kubernetes target is not available in this build');
      // Port-forwards and forced finalizer removals are reported where the local stack reports its progress.
      return new mod.KubernetesTarget(config, campaignId, localOpts.onProgress ? { log: localOpts.onProgress } : {});
    }
  }
}
