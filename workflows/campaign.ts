import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  condition,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createCampaignActivities } from '../activities/campaign';
import type { createDeployActivities } from '../activities/deploy';
import type { createTrafficActivities } from '../activities/traffic';
import type { createBrowserActivities } from '../activities/browser';
import type { createChaosActivities } from '../activities/chaos';
import type { createMetricsActivities } from '../activities/metrics';
import type { createDatasetActivities } from '../activities/dataset';
import type { createModelActivities } from '../activities/model';
import type { createTrainingActivities } from '../activities/model/training-index';
import type { createReportActivities } from '../activities/report';
import type { createLocaliseActivities } from '../activities/localise';
import type { TargetEndpoints } from '../activities/deploy/types';
import type { LoadRunSummary } from '../activities/traffic/types';
import type { BrowserProbeSummary } from '../activities/browser/types';
import type { ChaosLoopResult } from '../activities/chaos/types';
import type { CollectResult, PhaseWindow } from '../activities/metrics/types';
import type { DatasetRef } from '../activities/dataset/types';
import type { EvaluationHeadline, TrainResult } from '../activities/model/types';
import type { ReportResult } from '../activities/report/types';
import { NON_RETRYABLE_FAILURE_TYPES } from '../activities/failure-types';
import { ConfigError, parseCampaignConfig, type CampaignConfig, type CampaignConfigInput } from '../schemas/campaign';
import { PHASES, type Phase } from '../schemas/phases';
import { ms } from '../schemas/duration';
import {
  CAMPAIGN_PHASE,
  CAMPAIGN_TARGET,
  TRAINING_TASK_QUEUE,
  chaosCountersSignal,
  chaosWorkflowId,
  pauseSignal,
  progressQuery,
  resumeSignal,
  stopSignal,
  type CampaignProgress,
  type CampaignStatus,
  liveFraction,
} from './messages';
import { chaosLoop } from './chaos-loop';

type Activities = ReturnType<typeof createCampaignActivities> &
  ReturnType<typeof createDeployActivities> &
  ReturnType<typeof createTrafficActivities> &
  ReturnType<typeof createBrowserActivities> &
  ReturnType<typeof createChaosActivities> &
  ReturnType<typeof createMetricsActivities> &
  ReturnType<typeof createDatasetActivities> &
  ReturnType<typeof createModelActivities> &
  ReturnType<typeof createReportActivities> &
  ReturnType<typeof createLocaliseActivities>;
type TrainingActivities = ReturnType<typeof createTrainingActivities>;

/**
 * Patch id of the config resolved by the resolveConfig activity (parsed and defaulted outside workflow code,
 * recorded in history). Histories from before it parse in the workflow, as they did when recorded.
 */
export const RESOLVED_CONFIG_PATCH = 'resolved-config';

/** Patch id of the localisation step after evaluate (histories recorded before it replay without it). */
export const LOCALISE_PATCH = 'localise-step';

/** Patch id of the dataset phase's imported-dataset branch. */
export const IMPORTED_DATASET_PATCH = 'imported-dataset';

/**
 * Patch id of the target teardown at the end of a campaign whose config says `teardown: true` (runs recorded
 * before it ignored the field, and replay without the activity).
 */
export const TEARDOWN_PATCH = 'campaign-teardown';

const NON_RETRYABLE = [...NON_RETRYABLE_FAILURE_TYPES];

/** Quick bookkeeping: small files in the data dir. */
const book = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** Deploy waits for readiness (minutes on a cluster); heartbeats let a dead worker be noticed in 10 s. */
const deployer = proxyActivities<Activities>({
  startToCloseTimeout: '20m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '2s', maximumAttempts: 4, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Long-running, heartbeating activities (traffic, probes, collection, dataset, scoring): a worker crash is
 * detected within the heartbeat timeout and the retry resumes from heartbeat details. Unlimited
 * attempts would hide a persistent bug, so attempts are bounded.
 */
const longRunning = proxyActivities<Activities>({
  startToCloseTimeout: '26h',
  // Activities heartbeat every second or so; 10 s notices a dead worker quickly without false alarms.
  heartbeatTimeout: '10s',
  cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 10, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** Training runs on the GPU pool's own task queue; epochs stream as heartbeats. */
const trainer = proxyActivities<TrainingActivities>({
  taskQueue: TRAINING_TASK_QUEUE,
  startToCloseTimeout: '12h',
  // The training activity heartbeats on a timer as well as per epoch, so a slow epoch is not a dead worker.
  heartbeatTimeout: '30s',
  cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  retry: { initialInterval: '5s', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Localisation reads files and ranks a few hundred episodes: a failure is logged, so two attempts suffice. It
 * heartbeats on a timer, so a killed worker is retried after 30 s, not after the 30 min start-to-close (the
 * SIGKILL drill waited that long when its kill landed in this step).
 */
const localiser = proxyActivities<Activities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '2s', maximumAttempts: 2, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** Fault cleanup must finish even when everything else is going wrong: short, many attempts. */
const cleaner = proxyActivities<Activities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 30 },
});

/** Relative weight of each phase in the progress fraction (data phases are short next to traffic). */
const WEIGHT: Record<Phase, number> = {
  deploy: 1,
  warmup: 1,
  baseline: 4,
  chaos: 6,
  collect: 1,
  dataset: 1,
  train: 3,
  evaluate: 1,
  report: 1,
};

export interface CampaignResult {
  campaignId: string;
  status: 'completed' | 'stopped' | 'failed';
  dataDir: string;
  reportPath?: string;
  resultsPath?: string;
  headline?: EvaluationHeadline;
  faultsInjected: number;
  cleanupRuns: number;
  error?: string;
}

// Date.now() in workflow code is Temporal's deterministic workflow time (replayed from history), not the clock.

/**
 * One chaos campaign: deploy → warm-up → baseline → chaos → collect → dataset → train → evaluate → report.
 * `stop` ends the traffic phases early but still labels, trains and reports what was collected;
 * `pause` holds the pipeline at the next phase boundary and pauses fault injection at once.
 * Every fault is removed in a non-cancellable scope whatever ends the campaign.
 */
export async function campaign(input: CampaignConfigInput): Promise<CampaignResult> {
  const config = await resolveCampaignConfig(input);
  const info = workflowInfo();
  const campaignId = info.workflowId;
  const planned = new Set<Phase>(config.phases);

  let status: CampaignStatus = 'running';
  let paused = false;
  let stopRequested = false;
  let stopReason: string | undefined;
  let currentPhase: CampaignProgress['phase'] = config.phases[0] ?? 'done';
  let faultsInjected = 0;
  let requestsSent = 0;
  let epochs = 0;
  let cleanupRuns = 0;
  let message: string | undefined;
  type PhaseEntry = Pick<CampaignProgress['phases'][number], 'name' | 'state' | 'startMs' | 'endMs'>;
  const phaseState = new Map<Phase, PhaseEntry>(
    PHASES.map((p) => [p, { name: p, state: planned.has(p) ? 'pending' : 'skipped' }]),
  );
  let chaosStarted = false;
  const chaosId = chaosWorkflowId(campaignId);

  const progress = (): CampaignProgress => {
    const phases = PHASES.map((p) => ({
      ...(phaseState.get(p) as CampaignProgress['phases'][number]),
      weight: WEIGHT[p],
      plannedMs: phasePlanMs(config, p) || undefined,
    }));
    const snapshot: CampaignProgress = {
      campaignId,
      name: config.name,
      status,
      phase: currentPhase,
      phases,
      fraction: 0,
      faultsInjected,
      requestsSent,
      epochs,
      chaosWorkflowId: chaosStarted ? chaosId : undefined,
      message,
    };
    snapshot.fraction = liveFraction(snapshot, Date.now());
    return snapshot;
  };

  // Handlers only change state; the phase loop reacts to it.
  setHandler(progressQuery, progress);
  setHandler(pauseSignal, (arg) => {
    if (stopRequested || paused) return;
    paused = true;
    status = 'paused';
    message = arg?.reason ? `paused: ${arg.reason}` : 'paused';
    if (chaosStarted) void forward('pause');
  });
  setHandler(resumeSignal, () => {
    if (!paused) return;
    paused = false;
    status = stopRequested ? 'stopping' : 'running';
    message = undefined;
    if (chaosStarted) void forward('resume');
  });
  setHandler(stopSignal, (arg) => {
    if (stopRequested) return;
    stopRequested = true;
    stopReason = arg?.reason ?? 'stop requested';
    paused = false;
    status = 'stopping';
    message = `stopping: ${stopReason}`;
    timePhaseScope?.cancel();
    if (chaosStarted) void forward('stop');
  });
  setHandler(chaosCountersSignal, (c) => {
    faultsInjected = c.injected;
  });

  async function forward(kind: 'pause' | 'resume' | 'stop'): Promise<void> {
    const handle = getExternalWorkflowHandle(chaosId);
    try {
      if (kind === 'pause') await handle.signal(pauseSignal, { reason: 'campaign paused' });
      else if (kind === 'resume') await handle.signal(resumeSignal);
      else await handle.signal(stopSignal, { reason: stopReason });
    } catch (err) {
      // The chaos loop may already have finished; nothing to forward then.
      log.info('signal to chaos loop not delivered', { kind, error: String(err) });
    }
  }

  const setPhase = (p: CampaignProgress['phase']) => {
    currentPhase = p;
    upsertSearchAttributes([{ key: CAMPAIGN_PHASE, value: p }]);
  };
  upsertSearchAttributes([
    { key: CAMPAIGN_TARGET, value: config.target.type },
    { key: CAMPAIGN_PHASE, value: currentPhase },
  ]);

  let timePhaseScope: CancellationScope | undefined;
  const prepared = await book.prepareCampaign({ campaignId, config });
  const dataDir = prepared.dataDir;

  let endpoints: TargetEndpoints | undefined;
  const windows: PhaseWindow[] = [];
  const traffic: LoadRunSummary[] = [];
  const browser: BrowserProbeSummary[] = [];
  let chaosResult: ChaosLoopResult | undefined;
  let collected: CollectResult | undefined;
  let dataset: DatasetRef | undefined;
  let trained: TrainResult | undefined;
  let headline: EvaluationHeadline | undefined;
  let report: ReportResult | undefined;
  let failure: string | undefined;

  /** Runs a phase body, recording its state; a stop cancels only the time-bound phases. */
  async function phase(p: Phase, body: () => Promise<void>): Promise<void> {
    if (!planned.has(p)) return;
    if (paused) {
      message = `paused before ${p}`;
      await condition(() => !paused);
    }
    const timeBound = p === 'warmup' || p === 'baseline' || p === 'chaos';
    if (stopRequested && (timeBound || p === 'deploy')) {
      phaseState.set(p, { name: p, state: 'skipped' });
      return;
    }
    setPhase(p);
    const st = { name: p, state: 'running' as const, startMs: Date.now() };
    phaseState.set(p, st);
    try {
      if (timeBound) {
        timePhaseScope = new CancellationScope();
        await timePhaseScope.run(body).catch((err: unknown) => {
          // A stop cancels the phase on purpose: what ran so far is kept.
          if (!(stopRequested && isCancellation(err))) throw err;
        });
        timePhaseScope = undefined;
      } else {
        await body();
      }
      phaseState.set(p, { ...st, state: 'done', endMs: Date.now() });
    } catch (err) {
      phaseState.set(p, { ...st, state: 'failed', endMs: Date.now() });
      throw err;
    }
  }

  const needsEndpoints = (): TargetEndpoints => {
    if (!endpoints) {
      throw ApplicationFailure.nonRetryable('no target endpoints: the deploy phase must run first', 'InvalidConfig');
    }
    return endpoints;
  };

  async function trafficPhase(name: 'warmup' | 'baseline' | 'chaos', withProbe: boolean): Promise<void> {
    const ep = needsEndpoints();
    const durationMs = ms(config.durations[name]);
    const startMs = Date.now();
    const work: Promise<unknown>[] = [];
    if (config.traffic.enabled) {
      work.push(
        longRunning
          .runLoad({
            campaignId,
            dataDir,
            phase: name,
            frontendUrl: ep.frontendUrl,
            durationMs,
            traffic: config.traffic,
          })
          .then((s) => {
            traffic.push(s);
            requestsSent += s.requests;
          }),
      );
    }
    if (withProbe && config.browser.enabled) {
      work.push(
        longRunning
          .runBrowserProbe({
            campaignId,
            dataDir,
            phase: name,
            frontendUrl: ep.frontendUrl,
            durationMs,
            browser: config.browser,
          })
          .then((s) => void browser.push(s)),
      );
    }
    if (name === 'chaos' && config.chaos.enabled) {
      chaosStarted = true;
      work.push(
        executeChild(chaosLoop, {
          workflowId: chaosId,
          // (same task queue as the campaign: whoever runs campaigns runs their chaos loops)
          // The child removes its own faults when the campaign is cancelled or terminated.
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          args: [
            {
              campaignId,
              dataDir,
              target: config.target,
              endpoints: ep,
              chaos: config.chaos,
              startMs,
              endMs: startMs + durationMs,
            },
          ],
        }).then((r) => {
          chaosResult = r;
          faultsInjected = r.injected;
        }),
      );
    }
    // With traffic, probe and chaos all disabled the phase still lasts its duration (an idle baseline).
    if (work.length === 0) work.push(sleep(durationMs));
    await Promise.all(work);
    windows.push({ name, startMs, endMs: Date.now() });
  }

  try {
    await phase('deploy', async () => {
      endpoints = await deployer.deployTarget({ campaignId, dataDir, target: config.target });
    });
    await phase('warmup', () => trafficPhase('warmup', false));
    await phase('baseline', () => trafficPhase('baseline', true));
    await phase('chaos', () => trafficPhase('chaos', true));
    await phase('collect', async () => {
      const ep = needsEndpoints();
      collected = await longRunning.collectMetrics({
        campaignId,
        dataDir,
        prometheusUrl: ep.prometheusUrl,
        phases: windows.filter((w) => w.name !== 'warmup'),
        features: config.features,
        stepMs: ms(config.dataset.step),
      });
    });
    await phase('dataset', async () => {
      // A dataset imported from files (faultline dataset import) is adopted as it is. (Guarded by a
      // patch marker: histories from before this branch existed replay unchanged.)
      if (config.importedDataset !== undefined && patched(IMPORTED_DATASET_PATCH)) {
        dataset = await longRunning.adoptImportedDataset({ dataDir, sourceDir: config.importedDataset });
        return;
      }
      if (!collected)
        throw ApplicationFailure.nonRetryable(
          'no metrics collected: the collect phase must run first',
          'InvalidConfig',
        );
      dataset = await longRunning.buildDataset({
        campaignId,
        dataDir,
        collected,
        faultLogPath: chaosResult?.faultLogPath ?? prepared.faultLogPath,
        dataset: config.dataset,
        configHash: prepared.configHash,
      });
    });
    await phase('train', async () => {
      if (!dataset)
        throw ApplicationFailure.nonRetryable('no dataset: the dataset phase must run first', 'InvalidConfig');
      const t = await trainer.trainModel({ campaignId, dataDir, dataset, model: config.model });
      trained = t;
      epochs = t.epochs;
    });
    await phase('evaluate', async () => {
      if (!dataset || !trained)
        throw ApplicationFailure.nonRetryable('evaluate needs the dataset and train phases', 'InvalidConfig');
      headline = await longRunning.evaluateModel({ campaignId, dataDir, dataset, trained, model: config.model });
      // Which service is at fault, for each fault episode (localisation.json beside results.json; the
      // report reads it). A failure here costs the localisation section, not the campaign.
      if (patched(LOCALISE_PATCH)) {
        try {
          const loc = await localiser.localiseFaults({ datasetDir: dataset.dir, resultsPath: headline.resultsPath });
          log.info('localisation', { ...loc });
        } catch (err) {
          if (isCancellation(err)) throw err;
          log.error('localisation failed', { error: String(err) });
        }
      }
    });
  } catch (err) {
    // An ActivityFailure's own message is generic ("Activity task failed"); the cause says what went wrong.
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
    failure = cause instanceof Error ? cause.message : String(cause);
    if (isCancellation(err)) failure = 'campaign cancelled';
    log.error('campaign phase failed', { error: failure });
    throw err;
  } finally {
    // Runs on completion, stop, cancel and failure alike; a cancelled workflow still gets its cleanup.
    await CancellationScope.nonCancellable(async () => {
      setPhase('cleanup');
      cleanupRuns += 1;
      // Whenever the chaos phase began (even if a stop cut it short), every fault of this campaign is
      // removed here, idempotently, besides the chaos loop's own cleanup: belt and braces.
      const chaosPhase = phaseState.get('chaos')?.state;
      if (chaosStarted || chaosPhase === 'running' || chaosPhase === 'done' || chaosPhase === 'failed') {
        await cleaner.removeAllFaults({ campaignId, dataDir, target: config.target, endpoints });
      }
      status = failure ? 'failed' : stopRequested ? 'stopped' : 'completed';
      if (planned.has('report')) {
        try {
          setPhase('report');
          phaseState.set('report', { name: 'report', state: 'running', startMs: Date.now() });
          // Earlier campaigns of the same config, so the report can show the trend and flag regressions.
          const previous = await book.campaignHistory({
            dataDir,
            configHash: prepared.configHash,
            excludeId: campaignId,
          });
          report = await book.writeReport({
            previousResultsPaths: previous.flatMap((e) => (e.resultsPath ? [e.resultsPath] : [])),
            campaignId,
            campaignName: config.name,
            dataDir,
            configHash: prepared.configHash,
            status: status === 'completed' ? 'completed' : status === 'stopped' ? 'stopped' : 'failed',
            endpoints,
            phases: windows,
            traffic,
            browser,
            faultLogPath: chaosResult?.faultLogPath,
            faultsInjected,
            collected,
            dataset,
            trained,
            evaluation: headline,
          });
          phaseState.set('report', { name: 'report', state: 'done', endMs: Date.now() });
        } catch (err) {
          phaseState.set('report', { name: 'report', state: 'failed' });
          log.error('report failed', { error: String(err) });
        }
      }
      // `teardown: true`: the deployed target goes last, after the report (which may still read it) and after the
      // fault cleanup above. A failed teardown is logged and told in the progress message, not fatal: the data is
      // already written, and `faultline` names what is left (kubectl delete namespace / faultline down).
      const deployState = phaseState.get('deploy')?.state;
      if (
        config.teardown &&
        deployState !== undefined &&
        deployState !== 'pending' &&
        deployState !== 'skipped' &&
        patched(TEARDOWN_PATCH)
      ) {
        try {
          await deployer.teardownTarget({ campaignId, dataDir, target: config.target });
          log.info('target torn down (teardown: true)', { target: config.target.type });
        } catch (err) {
          const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
          message = `teardown failed: ${cause instanceof Error ? cause.message : String(cause)}`;
          log.error('teardown failed', { error: message });
        }
      }
      await book.finishCampaign({
        campaignId,
        dataDir,
        status: status === 'completed' ? 'completed' : status === 'stopped' ? 'stopped' : 'failed',
        reportPath: report?.htmlPath,
        resultsPath: report?.resultsJsonPath,
        headline,
        faultsInjected,
        error: failure,
      });
      setPhase('done');
    });
  }
  return {
    campaignId,
    status: stopRequested ? 'stopped' : 'completed',
    dataDir,
    reportPath: report?.htmlPath,
    resultsPath: report?.resultsJsonPath,
    headline,
    faultsInjected,
    cleanupRuns,
  };
}

/**
 * The campaign's config, parsed and defaulted once. New runs take it from the resolveConfig activity, so the
 * object is in the history and a later change of a schema default cannot change what this run replays;
 * runs recorded before the patch parse it here, as they did then.
 */
async function resolveCampaignConfig(input: CampaignConfigInput): Promise<Readonly<CampaignConfig>> {
  if (patched(RESOLVED_CONFIG_PATCH)) {
    // The config is needed for the progress query too: answer with the raw name until it is resolved.
    setHandler(progressQuery, () => unresolvedProgress(input));
    try {
      return deepFreeze(await book.resolveConfig(input));
    } catch (err) {
      // The activity's own failure ('InvalidConfig', naming every bad field) is the campaign's failure.
      if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) throw err.cause;
      throw err;
    }
  }
  try {
    return parseCampaignConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidConfig', err.issues);
    throw err;
  }
}

function unresolvedProgress(input: CampaignConfigInput): CampaignProgress {
  const raw: unknown = input;
  const name = raw && typeof raw === 'object' && 'name' in raw ? String(raw.name) : '';
  return {
    campaignId: workflowInfo().workflowId,
    name,
    status: 'running',
    phase: 'deploy',
    phases: PHASES.map((p) => ({ name: p, state: 'pending', weight: WEIGHT[p] })),
    fraction: 0,
    faultsInjected: 0,
    requestsSent: 0,
    epochs: 0,
    message: 'resolving the campaign config',
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function phasePlanMs(config: CampaignConfig, p: Phase): number {
  if (p === 'warmup' || p === 'baseline' || p === 'chaos') return ms(config.durations[p]);
  return 0;
}
