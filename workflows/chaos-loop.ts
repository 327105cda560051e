import {
  ActivityCancellationType,
  ActivityFailure,
  CancellationScope,
  TimeoutFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import type { createChaosActivities } from '../activities/chaos';
import type { HostQueueActivities } from '../activities/chaos/host-queue';
import type {
  ChaosLoopInput,
  ChaosLoopResult,
  InjectBatchResult,
  PlannedFault,
  RemoveAllFaultsResult,
} from '../activities/chaos/types';
import { NON_RETRYABLE_FAILURE_TYPES } from '../activities/failure-types';
import { mulberry32Advance, mulberry32Output } from '../activities/random';
import { parseDuration } from '../schemas/duration';
import type { ChaosConfig, ChaosSchedule } from '../schemas/faults';
import {
  chaosCountersSignal,
  chaosProgressQuery,
  haltSignal,
  pauseSignal,
  resumeSignal,
  stopSignal,
  unhaltSignal,
} from './messages';

type ChaosActivities = ReturnType<typeof createChaosActivities> & HostQueueActivities;

/**
 * Patch id of the per-host chaos queue: a loop's batches and cleanup run on the task queue of one worker process
 * (activities/chaos/host-queue.ts), so their hand-over files need no volume shared between worker replicas; when
 * that worker is gone (nothing picks the next attempt up within HOST_SCHEDULE_TO_START) the batches start again
 * on another worker's queue and take over from the fault log. Runs recorded before it use the shared queue.
 */
export const CHAOS_HOST_QUEUE_PATCH = 'chaos-host-queue';
/** How long a batch or cleanup may wait on the host queue before its worker counts as gone. */
const HOST_SCHEDULE_TO_START = '5s';

const NON_RETRYABLE = [...NON_RETRYABLE_FAILURE_TYPES];

/** The injection batches: long, heartbeating (a dead worker is noticed within 5 s), resumed from heartbeats. */
const INJECTOR_OPTIONS = {
  startToCloseTimeout: '2h',
  heartbeatTimeout: '5s',
  // the cleanup fences a cancelled batch itself, so the loop need not wait for the cancel to land
  cancellationType: ActivityCancellationType.TRY_CANCEL,
  retry: {
    initialInterval: '200ms',
    maximumInterval: '2s',
    maximumAttempts: 50,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
} as const;
const injector = proxyActivities<ChaosActivities>(INJECTOR_OPTIONS);
/** Bookkeeping and cleanup. */
const BOOK_OPTIONS = {
  startToCloseTimeout: '2m',
  retry: {
    initialInterval: '200ms',
    maximumInterval: '5s',
    maximumAttempts: 20,
    nonRetryableErrorTypes: NON_RETRYABLE,
  },
} as const;
const book = proxyActivities<ChaosActivities>(BOOK_OPTIONS);

/** The batch and cleanup activities on one worker's own queue (CHAOS_HOST_QUEUE_PATCH). */
function onHost(queue: string) {
  return {
    injector: proxyActivities<ChaosActivities>({
      ...INJECTOR_OPTIONS,
      taskQueue: queue,
      scheduleToStartTimeout: HOST_SCHEDULE_TO_START,
    }),
    book: proxyActivities<ChaosActivities>({
      ...BOOK_OPTIONS,
      taskQueue: queue,
      scheduleToStartTimeout: HOST_SCHEDULE_TO_START,
    }),
  };
}

/** Nothing picked the activity up on its host queue in time: that worker is gone (a schedule-to-start timeout is final). */
function hostLost(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof TimeoutFailure &&
    err.cause.timeoutType === 'SCHEDULE_TO_START'
  );
}

/**
 * History events one batch adds: activity scheduled/started/completed, the workflow task it wakes (scheduled,
 * started, completed) and the counters signal to the parent (initiated, signaled).
 */
const EVENTS_PER_BATCH = 8;

/** Carried across continue-as-new. */
export interface ChaosLoopState {
  /** Next fault's sequence number and planned time. */
  seq: number;
  cursorMs: number;
  /** mulberry32 state of the plan's random stream. */
  rng: number;
  epoch: number;
  injected: number;
  rejected: number;
  failed: number;
  paused: boolean;
  halted?: string;
  stopRequested: boolean;
  aborted?: { reason: string; atMs: number };
  sloBreachSince: Record<string, number>;
  runs: number;
  preflightDone: boolean;
  /** The worker queue this loop's batches and cleanup run on (CHAOS_HOST_QUEUE_PATCH); unset until chosen. */
  hostQueue?: string;
}

/** mulberry32 step: pure, so the plan is the same on every replay and after continue-as-new. */
function nextRandom(state: ChaosLoopState): number {
  state.rng = mulberry32Advance(state.rng);
  return mulberry32Output(state.rng);
}

function interval(schedule: ChaosSchedule, state: ChaosLoopState): number {
  switch (schedule.type) {
    case 'fixed':
      return parseDuration(schedule.interval);
    case 'uniform': {
      const lo = parseDuration(schedule.min);
      const hi = parseDuration(schedule.max);
      return Math.round(lo + nextRandom(state) * (hi - lo));
    }
    case 'poisson': {
      const mean = parseDuration(schedule.mean);
      return Math.max(1, Math.round(-Math.log(1 - nextRandom(state)) * mean));
    }
    default: {
      const never: never = schedule;
      throw new Error(`unknown schedule ${JSON.stringify(never)}`);
    }
  }
}

/** The burst that contains t, or the next one; faults are planned only inside bursts. */
function burstAt(chaos: ChaosConfig, startMs: number, t: number): { from: number; to: number } {
  if (!chaos.episodes) return { from: t, to: Number.MAX_SAFE_INTEGER };
  const burst = parseDuration(chaos.episodes.burst);
  const quiet = parseDuration(chaos.episodes.quiet);
  const period = burst + quiet;
  const offset = chaos.episodes.startWith === 'quiet' ? quiet : 0;
  const k = Math.floor((t - startMs - offset) / period);
  const from = startMs + offset + Math.max(0, k) * period;
  if (t < from) return { from, to: from + burst };
  if (t < from + burst) return { from, to: from + burst };
  return { from: from + period, to: from + period + burst };
}

/** Plans up to `n` faults from the cursor: seeded schedule, weighted mix (or specs in turn), bursts and quiet gaps. */
export function planFaults(
  chaos: ChaosConfig,
  state: ChaosLoopState,
  startMs: number,
  endMs: number,
  n: number,
  /** A batch also ends once it would span more than this much plan time (so counters flow during a phase). */
  spanMs = Infinity,
  /**
   * `cycle`: fault seq n takes spec n mod specs (no draw for the spec), so every spec gets the same count; the
   * caller passes it only once the workflow's `chaos-order-cycle` patch is in, default = the weighted draw.
   */
  order: 'weighted' | 'cycle' = 'weighted',
): PlannedFault[] {
  const out: PlannedFault[] = [];
  const totalWeight = chaos.faults.reduce((s, f) => s + f.weight, 0);
  while (out.length < n) {
    const b = burstAt(chaos, startMs, state.cursorMs);
    const planned = Math.max(state.cursorMs, b.from);
    if (planned >= endMs) break;
    // checked before any random draw, so the plan itself does not depend on how it is batched
    if (out.length > 0 && planned > (out[0] as PlannedFault).plannedMs + spanMs) break;
    let specIndex = 0;
    if (order === 'cycle') {
      // by sequence number, which the log numbers without gaps (a cancelled batch's ids are reused), so the
      // log's n-th fault is spec n mod specs whatever pauses, halts or continue-as-new came between
      specIndex = state.seq % chaos.faults.length;
    } else {
      let pick = nextRandom(state) * totalWeight;
      for (; specIndex < chaos.faults.length - 1; specIndex++) {
        pick -= (chaos.faults[specIndex] as ChaosConfig['faults'][number]).weight;
        if (pick < 0) break;
      }
    }
    const spec = chaos.faults[specIndex] as ChaosConfig['faults'][number];
    const seed = Math.floor(nextRandom(state) * 4294967296);
    // a fault ends by the end of its burst and of the phase, so quiet gaps are really quiet
    const durationMs = Math.max(500, Math.min(parseDuration(spec.duration), b.to - planned, endMs - planned));
    out.push({
      id: `f${String(state.seq).padStart(6, '0')}`,
      seq: state.seq,
      specIndex,
      type: spec.type,
      plannedMs: planned,
      durationMs,
      seed,
    });
    state.seq += 1;
    state.cursorMs = planned + interval(chaos.schedule, state);
  }
  return out;
}

function initialState(input: ChaosLoopInput): ChaosLoopState {
  const state: ChaosLoopState = {
    seq: 0,
    cursorMs: input.startMs,
    rng: input.chaos.seed >>> 0,
    epoch: 0,
    injected: 0,
    rejected: 0,
    failed: 0,
    paused: false,
    stopRequested: false,
    sloBreachSince: {},
    runs: 0,
    preflightDone: false,
  };
  // the first fault comes one interval into the phase, as in the reference loop (sleep, then kill)
  state.cursorMs = input.startMs + interval(input.chaos.schedule, state);
  return state;
}

/**
 * The chaos phase: plans faults from the seeded schedule, injects them in heartbeating batch activities,
 * honours pause/resume/stop/halt, aborts on SLO breach, continues-as-new to keep history bounded, and always
 * removes every active fault in a non-cancellable cleanup (stop, cancel, failure, end).
 */
export async function chaosLoop(input: ChaosLoopInput): Promise<ChaosLoopResult> {
  const state: ChaosLoopState = (input.state as ChaosLoopState | undefined) ?? initialState(input);
  state.runs += 1;
  const { chaos } = input;
  const faultLogPath = `${input.dataDir.replace(/\/$/, '')}/chaos/faults.jsonl`;

  setHandler(pauseSignal, () => {
    state.paused = true;
  });
  setHandler(resumeSignal, () => {
    state.paused = false;
  });
  setHandler(stopSignal, () => {
    state.stopRequested = true;
  });
  setHandler(haltSignal, (h) => {
    state.halted = h.reason;
  });
  setHandler(unhaltSignal, () => {
    state.halted = undefined;
  });
  let active = 0;
  let nextPlannedMs: number | undefined;
  setHandler(chaosProgressQuery, () => ({
    injected: state.injected,
    rejected: state.rejected,
    active,
    paused: state.paused,
    halted: state.halted !== undefined,
    nextPlannedMs,
  }));

  const result = (stopped: boolean): ChaosLoopResult => ({
    faultLogPath,
    injected: state.injected,
    rejected: state.rejected,
    stopped,
    ...(state.aborted ? { aborted: state.aborted } : {}),
  });
  if (!chaos.enabled) return result(false);

  const parent = workflowInfo().parent;
  let lastSent = '';
  const sendCounters = async () => {
    if (!parent) return;
    const c = { injected: state.injected, rejected: state.rejected };
    const key = `${c.injected}/${c.rejected}`;
    if (key === lastSent) return;
    lastSent = key;
    try {
      await getExternalWorkflowHandle(parent.workflowId).signal(chaosCountersSignal, c);
    } catch (err) {
      log.info('chaos counters not delivered to the parent', { error: String(err) });
    }
  };

  const interrupted = () => state.paused || state.halted !== undefined || state.stopRequested;
  // runs started before the per-host queue keep every chaos activity on the shared queue (same commands on replay)
  const hostQueued = patched(CHAOS_HOST_QUEUE_PATCH);
  const cleanup = async (reason: string) => {
    const args = {
      campaignId: input.campaignId,
      dataDir: input.dataDir,
      target: input.target,
      endpoints: input.endpoints,
      fenceEpoch: state.epoch,
      reason,
      watchMs: reason === 'end of chaos phase' ? 10_000 : 0,
    };
    let res: RemoveAllFaultsResult;
    if (hostQueued && state.hostQueue !== undefined) {
      // on the batches' own worker, so the fence it writes is the one they read
      try {
        res = await onHost(state.hostQueue).book.removeAllFaults(args);
      } catch (err) {
        if (!hostLost(err)) throw err;
        // that worker is gone, and its batches with it: any worker removes the faults, from the log and the target
        log.warn('chaos worker lost before the cleanup; cleaning up from another worker', {
          hostQueue: state.hostQueue,
        });
        state.hostQueue = undefined;
        res = await book.removeAllFaults(args);
      }
    } else {
      res = await book.removeAllFaults(args);
    }
    active = 0;
    // a cancelled batch leaves planned-but-never-logged ids: continue numbering right after the last logged
    // one, so the log has no gap (the fence guarantees no batch of this epoch logs another id after this)
    if (res.lastSeq !== undefined) state.seq = res.lastSeq + 1;
    state.epoch += 1;
  };

  /** Batches running (or waiting for their hand-over), oldest first. */
  interface InFlight {
    scope: CancellationScope;
    first: PlannedFault;
    last: PlannedFault;
    faults: PlannedFault[];
    /** The last batch of the phase: it services removals until the end. */
    endsPhase: boolean;
    res?: InjectBatchResult;
    failure?: unknown;
  }
  let inflight: InFlight[] = [];
  // runs started before overlapping batches keep one batch at a time (same commands on replay)
  const depth = patched('chaos-batch-overlap') ? 2 : 1;
  // `order: cycle` is a plan change: behind a patch marker (asked only when the config sets it, which no
  // history recorded before the option existed can: the schema rejected the key), weighted otherwise
  const order = chaos.order === 'cycle' && patched('chaos-order-cycle') ? 'cycle' : 'weighted';
  let planDone = false;
  let lastDoneSeq = -1;
  const cancelInflight = () => {
    for (const b of inflight) b.scope.cancel();
    inflight = [];
  };
  /** Starts a batch activity (on `acts`: the shared queue's, or the host queue's) and records how it settles. */
  const launch = (b: InFlight, afterSeq: number | undefined, acts: typeof injector) => {
    const run = b.scope.run(() =>
      acts.injectFaultBatch({
        campaignId: input.campaignId,
        dataDir: input.dataDir,
        target: input.target,
        endpoints: input.endpoints,
        chaos,
        faults: b.faults,
        epoch: state.epoch,
        chaosStartMs: input.startMs,
        ...(b.endsPhase ? { serviceUntilMs: input.endMs } : {}),
        sloBreachSince: state.sloBreachSince,
        ...(afterSeq !== undefined ? { afterSeq } : {}),
      }),
    );
    void run.then(
      (r) => {
        b.res = r;
      },
      (err: unknown) => {
        b.failure = err ?? new Error('batch failed');
      },
    );
    inflight.push(b);
  };

  let continuing = false;
  let cleanedUp = false;
  try {
    if (!state.preflightDone) {
      const pre = await book.chaosPreflight({
        campaignId: input.campaignId,
        dataDir: input.dataDir,
        target: input.target,
        endpoints: input.endpoints,
        chaos,
      });
      for (const r of pre.refusals) log.warn(r);
      if (pre.halted) state.halted = pre.halted.reason;
      state.preflightDone = true;
    }

    for (;;) {
      if (state.stopRequested || state.aborted) break;
      if (Date.now() >= input.endMs) break;

      if (state.paused || state.halted !== undefined) {
        cancelInflight();
        await cleanup(state.halted !== undefined ? `halt: ${state.halted}` : 'pause');
        await condition(() => state.stopRequested || (!state.paused && state.halted === undefined));
        // faults planned during the pause are skipped, not injected in a burst on resume; the cancelled batches
        // may have planned ahead of now, so the schedule restarts one interval after the resume either way
        state.cursorMs = Date.now() + interval(chaos.schedule, state);
        planDone = false;
        continue;
      }

      const info = workflowInfo();
      // the batches in flight still add their events to this run: launch another only if the run then stays
      // within maxHistoryEvents, else drain and continue as new (one batch at a time: as before overlapping)
      const reserve = depth > 1 ? EVENTS_PER_BATCH * (inflight.length + 1) : 0;
      const canDue = info.continueAsNewSuggested || info.historyLength + reserve >= chaos.maxHistoryEvents;
      if (canDue && inflight.length === 0) {
        await condition(allHandlersFinished);
        continuing = true;
        await continueAsNew<typeof chaosLoop>({ ...input, state });
      }

      // keep `depth` batches in flight: the next one is already running (waiting for the hand-over) when the
      // current one injects its last fault, so no workflow round trip falls between two faults. Before a
      // continue-as-new the pipeline drains (an activity does not outlive its run).
      if (hostQueued && state.hostQueue === undefined && !canDue && !planDone && inflight.length < depth) {
        // the worker that answers hosts this loop's batches and cleanup from now on (activities/chaos/host-queue.ts)
        state.hostQueue = await book.chaosHostQueue();
      }
      const acts = hostQueued && state.hostQueue !== undefined ? onHost(state.hostQueue).injector : injector;
      while (!canDue && !planDone && inflight.length < depth) {
        const batch = planFaults(
          chaos,
          state,
          input.startMs,
          input.endMs,
          chaos.batchSize,
          parseDuration(chaos.batchSpan),
          order,
        );
        if (batch.length === 0) {
          planDone = true;
          break;
        }
        const last = batch[batch.length - 1] as PlannedFault;
        const batchEndsPhase = last.plannedMs + 1 >= input.endMs || planPeek(chaos, state, input.startMs, input.endMs);
        if (batchEndsPhase) planDone = true;
        const prev = inflight[inflight.length - 1];
        const b: InFlight = {
          scope: new CancellationScope(),
          first: batch[0] as PlannedFault,
          last,
          faults: batch,
          endsPhase: batchEndsPhase,
        };
        launch(b, prev?.last.seq, acts);
      }
      nextPlannedMs = inflight[0]?.first.plannedMs;
      if (inflight.length === 0) {
        // nothing left to plan: wait out the phase (or a signal)
        await condition(interrupted, Math.max(1, input.endMs - Date.now()));
        continue;
      }
      const settled = () => inflight.find((x) => x.res !== undefined || x.failure !== undefined);
      await condition(() => settled() !== undefined || interrupted());
      const done = settled();
      if (done === undefined) {
        // pause / halt / stop: cancel the batches; the cleanup at the top of the loop fences them (no wait needed)
        cancelInflight();
        continue;
      }
      inflight.splice(inflight.indexOf(done), 1);
      if (done.failure !== undefined && hostQueued && hostLost(done.failure)) {
        // The host worker is gone (its next attempt found no poller). Its batches — this one and those waiting
        // behind it, all on its queue — start again, in order, on another worker's queue: the first takes over the
        // active faults from the fault log without waiting for a hand-over, and a fault the lost worker already
        // logged is never applied twice (BatchEngine reads the log first). See docs/coordination.md.
        const lost = [done, ...inflight].sort((x, y) => x.first.seq - y.first.seq);
        for (const x of inflight) x.scope.cancel();
        inflight = [];
        log.warn('chaos worker lost; its batches start again on another worker', {
          hostQueue: state.hostQueue,
          batches: lost.length,
        });
        state.hostQueue = await book.chaosHostQueue();
        const again = onHost(state.hostQueue).injector;
        let afterSeq: number | undefined;
        for (const x of lost) {
          launch(
            { scope: new CancellationScope(), first: x.first, last: x.last, faults: x.faults, endsPhase: x.endsPhase },
            afterSeq,
            again,
          );
          afterSeq = x.last.seq;
        }
        continue;
      }
      if (done.failure !== undefined)
        throw done.failure instanceof Error ? done.failure : new Error(JSON.stringify(done.failure));
      const r = done.res as InjectBatchResult;
      state.injected += r.injected;
      state.rejected += r.rejected;
      state.failed += r.failed;
      // the newest batch to finish carries the newest abort state and active count
      if (done.last.seq >= lastDoneSeq) {
        lastDoneSeq = done.last.seq;
        state.sloBreachSince = r.sloBreachSince;
        active = r.active;
      }
      if (r.aborted) state.aborted = r.aborted;
      if (r.halted) state.halted = r.halted.reason;
      await sendCounters();
    }
    cancelInflight();
    await CancellationScope.nonCancellable(() =>
      cleanup(state.stopRequested ? 'stop' : state.aborted ? `abort: ${state.aborted.reason}` : 'end of chaos phase'),
    );
    cleanedUp = true;
    await sendCounters();
    return result(state.stopRequested);
  } finally {
    if (!continuing && !cleanedUp) {
      cancelInflight();
      // cancel or failure: remove every fault no matter what
      await CancellationScope.nonCancellable(() => cleanup('cancelled or failed'));
    }
  }
}

/** True when no fault would follow this batch in the phase (so the batch services removals until the end). */
function planPeek(chaos: ChaosConfig, state: ChaosLoopState, startMs: number, endMs: number): boolean {
  const b = burstAt(chaos, startMs, state.cursorMs);
  return Math.max(state.cursorMs, b.from) >= endMs;
}
