import { z } from 'zod';
import { duration } from './duration';
import { targetSchema } from './target';
import { trafficSchema } from './traffic';
import { browserSchema } from './browser';
import { chaosSchema } from './faults';
import { defaultFeatureSet, featuresSchema } from './features';
import { datasetSchema } from './dataset';
import { modelSchema } from './model';
import { PHASES, AVAILABLE_PHASES, type Phase } from './phases';

export { PHASES, type Phase };

/** The phases a campaign on an imported dataset may run (nothing to deploy, load or collect). */
export const IMPORTED_DATASET_PHASES: readonly Phase[] = ['dataset', 'train', 'evaluate', 'report'];

/**
 * The one campaign config object: a YAML file on the CLI, JSON in the Temporal UI's Start Workflow form.
 * Every field has a default suited to the local demo, so `{ "name": "demo" }` is a valid campaign.
 */
export const campaignSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes, e.g. "nightly-boutique"'),
    description: z.string().max(2000).optional(),
    /** Root of faultline's data; campaign files go to <dataDir>/campaigns/<campaignId>/. Default: $FAULTLINE_HOME or ./.data */
    dataDir: z.string().optional(),
    target: targetSchema.default({ type: 'local' } as never),
    durations: z
      .object({
        warmup: duration().default('10s'),
        baseline: duration().default('2m'),
        chaos: duration().default('3m'),
      })
      .strict()
      .prefault({}),
    /** Phases to run, in pipeline order; omit to run every phase. */
    phases: z
      .array(z.enum(PHASES))
      .min(1)
      .default([...PHASES]),
    traffic: trafficSchema.prefault({}),
    browser: browserSchema.prefault({}),
    chaos: chaosSchema.prefault({}),
    features: featuresSchema.prefault({}),
    dataset: datasetSchema.prefault({}),
    model: modelSchema.prefault({}),
    /**
     * A dataset directory written by `faultline dataset import`: the dataset phase adopts it (copies it
     * into the campaign's data dir) instead of building one from collected metrics. Only the data phases
     * can run then: phases ⊆ dataset, train, evaluate, report, with dataset among them.
     */
    importedDataset: z
      .string()
      .regex(/^\//, 'must be an absolute path (the workers read it), e.g. /data/datasets/reference')
      .optional(),
    /** Tear the target down at the end (the local stack is shared, so the default keeps it). */
    teardown: z.boolean().default(false),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const set = cfg.features.set ?? defaultFeatureSet(cfg.target.type);
    if (cfg.features.requestMetrics !== undefined && set !== 'stock-cluster') {
      ctx.addIssue({
        code: 'custom',
        path: ['features', 'requestMetrics'],
        message:
          `applies to the stock-cluster feature set only, and this campaign uses ${set}` +
          (cfg.features.set ? '' : ` (the default for target.type ${cfg.target.type})`) +
          ': remove it, or set features.set: stock-cluster',
      });
    }
    cfg.phases.forEach((phase, i) => {
      if (!AVAILABLE_PHASES.includes(phase)) {
        ctx.addIssue({
          code: 'custom',
          path: ['phases', i],
          message: `phase ${phase} is not available in this build (available: ${AVAILABLE_PHASES.join(', ')})`,
        });
      }
    });
    if (cfg.importedDataset !== undefined) {
      const outside = cfg.phases.filter((p) => !IMPORTED_DATASET_PHASES.includes(p));
      if (outside.length || !cfg.phases.includes('dataset')) {
        ctx.addIssue({
          code: 'custom',
          path: ['phases'],
          message: `with importedDataset only the data phases run: set phases to a list from ${IMPORTED_DATASET_PHASES.join(', ')} that includes dataset${outside.length ? ` (not ${outside.join(', ')})` : ''}`,
        });
      }
    }
    const order = cfg.phases.map((p) => PHASES.indexOf(p));
    if (order.some((v, i) => i > 0 && v <= (order[i - 1] ?? -1))) {
      ctx.addIssue({
        code: 'custom',
        path: ['phases'],
        message: `phases must be listed once each in pipeline order: ${PHASES.join(', ')}`,
      });
    }
  });

export type CampaignConfigInput = z.input<typeof campaignSchema>;
export type CampaignConfig = z.output<typeof campaignSchema>;

/** A config that failed validation; `issues` are "path: message" lines a person can act on. */
export class ConfigError extends Error {
  constructor(public readonly issues: string[]) {
    super(`invalid campaign config:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(config)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

/** Validates and fills defaults; throws ConfigError naming every bad field. Safe in workflow code (pure). */
export function parseCampaignConfig(input: unknown): CampaignConfig {
  const result = campaignSchema.safeParse(input);
  if (result.success) {
    // The per-service feature set follows the target unless the config names one (stock-cluster on Kubernetes).
    const f = result.data.features;
    return { ...result.data, features: { ...f, set: f.set ?? defaultFeatureSet(result.data.target.type) } };
  }
  const issues = result.error.issues.map((issue) => {
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      message = `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}: remove them or check the spelling`;
    } else if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
      message = `required field is missing (expected ${issue.expected})`;
    } else if (issue.code === 'invalid_value' && 'values' in issue) {
      message = `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    return `${formatPath(issue.path)}: ${message}`;
  });
  throw new ConfigError(issues);
}
