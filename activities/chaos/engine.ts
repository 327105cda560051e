import { parseDuration } from '../../schemas/duration';
import type { FaultSpec } from '../../schemas/faults';
import type { FaultRecord } from '../../schemas/fault-log';
import type { PodInfo } from '../deploy/types';
import { checkAbort, type AbortState } from './abort';
import {
  activeFaults,
  foldFaultLog,
  FaultLogTail,
  readFaultLogEvents,
  type FaultLog,
  type FoldedRecord,
} from './fault-log';
import { checkConcurrency, checkSpec } from './guard';
import { fencePath, readFence, readHalt } from './halt';
import { haltMarkerPath } from './paths';
import { readHandoff, writeHandoff } from './handoff';
import { faultKey, stopHostProcess, type Injector } from './injector';
import type { ResolvedFault } from './kinds/kind';
import { FireRefused, type ApplyTiming } from './supervisor-http';
import { selectTarget } from './select';
import type { InjectBatchInput, InjectBatchResult, BatchHeartbeat, PlannedFault } from './types';

/**
 * Time before the planned instant at which the target is resolved and the `planned` line written (a pod list and
 * an fsync: tens of ms on a loaded host, so this leaves room for both before the deadline).
 */
const LEAD_MS = 500;
/** The last stretch before a deadline is waited out on setImmediate, not a timer (timers fire a ms or two late). */
const SPIN_MS = 3;
/** How often a batch waiting for its predecessor's hand-over looks at the marker. */
const HANDOFF_POLL_MS = 5;
/** Removals / recovery polls / abort checks are not started this close to an injection. */
const SERVICE_GUARD_MS = 60;
/** How often removed faults are checked for recovery. */
const RECOVERY_POLL_MS = 300;
/** How long recovery is watched after removal before giving up (recoveredMs stays absent). */
const RECOVERY_WATCH_MS = 60_000;

export interface EngineContext {
  heartbeat(details: BatchHeartbeat): void;
  /** Cancellation-aware sleep (the activity's). */
  sleep(ms: number): Promise<void>;
  now(): number;
  /** Resumed from a previous attempt's heartbeat. */
  resume?: BatchHeartbeat;
}

interface Active {
  fault: ResolvedFault;
}
interface Watching {
  fault: ResolvedFault;
  removedMs: number;
  nextPollMs: number;
}

class Stop extends Error {
  constructor(
    readonly kind: 'halted' | 'aborted' | 'fenced',
    readonly reason: string,
    readonly atMs: number,
  ) {
    super(reason);
  }
}

/** Rebuilds the ResolvedFault from its `planned` line (after a restart or in cleanup). */
export function resolvedFromRecord(r: FoldedRecord): ResolvedFault {
  const d = r.detail ?? {};
  return {
    id: r.id,
    campaignId: r.campaignId,
    key: (d.key as string | undefined) ?? faultKey(r.campaignId, r.id),
    type: r.type,
    namespace: r.target.namespace,
    app: r.target.app,
    pods: (d.pods as PodInfo[] | undefined) ?? [],
    params: r.params,
    plannedMs: r.plannedMs,
    endMs: r.plannedEndMs ?? r.plannedMs,
    detail: d,
  };
}

/**
 * Runs one batch of planned faults: sleeps until each planned instant, applies it, removes faults at their end
 * time, watches recovery, checks the halt marker before every injection and the abort conditions on a timer.
 * Idempotent across retries: the log is read first, and a fault already logged is never applied again.
 */
export class BatchEngine {
  private readonly records: Map<string, FoldedRecord>;
  private readonly active = new Map<string, Active>();
  private readonly watching = new Map<string, Watching>();
  private readonly abortState: AbortState;
  private nextAbortCheckMs = 0;
  private readonly tail: FaultLogTail;
  private readonly adherence: number[] = [];
  private next = 0;

  constructor(
    private readonly injector: Injector,
    private readonly log: FaultLog,
    private readonly input: InjectBatchInput,
    private readonly ctx: EngineContext,
  ) {
    // the log is parsed once here (a batch starts a whole batch ahead) and only its new lines at the hand-over
    this.tail = new FaultLogTail(log.path);
    this.records = foldFaultLog(this.tail.readNew());
    this.abortState = { breachSince: { ...(ctx.resume?.sloBreachSince ?? input.sloBreachSince ?? {}) } };
  }

  /** Takes over the campaign's active faults and recovery watches from the log (after the hand-over). */
  private load(): void {
    foldFaultLog(this.tail.readNew(), this.records);
    this.active.clear();
    this.watching.clear();
    const now = this.ctx.now();
    for (const r of activeFaults(this.records.values())) {
      if (r.status === 'applied') this.active.set(r.id, { fault: resolvedFromRecord(r) });
    }
    for (const r of this.records.values()) {
      if (
        r.removedMs !== undefined &&
        r.recoveredMs === undefined &&
        r.appliedMs !== undefined &&
        now - r.removedMs < RECOVERY_WATCH_MS
      ) {
        this.watching.set(r.id, { fault: resolvedFromRecord(r), removedMs: r.removedMs, nextPollMs: now });
      }
    }
  }

  /**
   * Logs an event. The first line of a fault id is written synchronously (cleanup fences the loop and then reads
   * the last id from the log, so an id must be on disk before anything else happens to it); every later line of
   * that id joins an asynchronous group write, so no fsync blocks the event loop near an injection.
   */
  private append(ev: Parameters<FaultLog['append']>[0]): void {
    if ('id' in ev && this.records.has(ev.id)) {
      this.log.appendAsync(ev).catch(() => undefined); // a failed write surfaces in flush()
    } else {
      this.log.append(ev);
    }
    // keep the in-memory fold current (only the fields the engine reads)
    if ('id' in ev) {
      const folded = foldFaultLog([ev]).get(ev.id);
      const prev = this.records.get(ev.id);
      if (ev.ev === 'planned' || ev.ev === 'rejected' || ev.ev === 'failed') {
        if (folded) this.records.set(ev.id, { ...prev, ...folded });
      } else if (prev) {
        if (ev.ev === 'applied') {
          prev.appliedMs ??= ev.ts;
          if (prev.status === 'planned') prev.status = 'applied';
        } else if (ev.ev === 'removed') {
          prev.removedMs ??= ev.ts;
          prev.status = 'removed';
        } else if (ev.ev === 'recovered') {
          prev.recoveredMs ??= ev.ts;
        }
      }
    }
  }

  async run(): Promise<InjectBatchResult> {
    const { faults } = this.input;
    this.next = this.ctx.resume?.next ?? 0;
    let stop: Stop | undefined;
    try {
      this.injector.warm?.();
      if (this.input.afterSeq !== undefined) await this.awaitHandoff(this.input.afterSeq);
      this.load();
      for (; this.next < faults.length; this.next++) {
        const pf = faults[this.next] as PlannedFault;
        await this.injectOne(pf);
        this.ctx.heartbeat({ next: this.next + 1, sloBreachSince: this.abortState.breachSince });
      }
      // the last batch of the phase services removals until the end; any other hands over at once
      if (this.input.serviceUntilMs !== undefined)
        await this.serviceUntil(Math.min(this.input.serviceUntilMs, this.ctx.now() + 60_000));
    } catch (err) {
      if (!(err instanceof Stop)) throw err;
      stop = err;
      if (err.kind !== 'fenced') this.append({ ev: err.kind, ts: err.atMs, reason: err.reason });
    }
    await this.log.flush();
    const last = faults[faults.length - 1];
    if (!stop && last) {
      // everything of this batch is settled and on disk: the successor may take over
      writeHandoff(this.input.dataDir, {
        seq: last.seq,
        sloBreachSince: this.abortState.breachSince,
        atMs: this.ctx.now(),
      });
    }
    return this.result(this.next, stop);
  }

  /** Waits (heartbeating) until the batch before this one has settled fault `seq` and handed over. */
  private async awaitHandoff(seq: number): Promise<void> {
    let nextBeat = 0;
    for (;;) {
      const h = readHandoff(this.input.dataDir);
      if (h && h.seq >= seq) {
        // the predecessor's abort state is newer than the one this batch was started with
        if (!this.ctx.resume) this.abortState.breachSince = { ...h.sloBreachSince };
        return;
      }
      const now = this.ctx.now();
      if (now >= nextBeat) {
        // a cleanup fences a waiting batch too (stop, pause, a failed predecessor)
        this.checkHalt();
        this.ctx.heartbeat({ next: this.next, sloBreachSince: this.abortState.breachSince });
        nextBeat = now + 250;
      }
      await this.ctx.sleep(HANDOFF_POLL_MS);
    }
  }

  private result(next: number, stop: Stop | undefined): InjectBatchResult {
    const ids = new Set(this.input.faults.map((f) => f.id));
    const counts = { injected: 0, rejected: 0, failed: 0 };
    for (const r of this.records.values()) {
      if (!ids.has(r.id)) continue;
      if (r.appliedMs !== undefined) counts.injected++;
      else if (r.status === 'rejected') counts.rejected++;
      else if (r.status === 'failed') counts.failed++;
    }
    return {
      ...counts,
      done: next,
      active: this.active.size,
      sloBreachSince: this.abortState.breachSince,
      adherenceMs: this.adherence,
      ...(stop && stop.kind !== 'fenced' ? { [stop.kind]: { reason: stop.reason, atMs: stop.atMs } } : {}),
      ...(stop?.kind === 'fenced' ? { fenced: true } : {}),
    };
  }

  private async injectOne(pf: PlannedFault): Promise<void> {
    const existing = this.records.get(pf.id);
    if (existing && existing.status !== 'planned') return; // logged already: a retry never re-applies
    if (existing) {
      // the previous attempt wrote `planned` and then crashed: finish it without a second effect
      const fault = resolvedFromRecord(existing);
      if (await this.injector.isApplied(fault)) {
        this.markApplied(fault, this.ctx.now(), 'found in place after a worker restart');
        return;
      }
      if (this.ctx.now() - pf.plannedMs > this.maxLatenessMs) {
        this.append({
          ev: 'failed',
          ts: this.ctx.now(),
          id: pf.id,
          campaignId: this.input.campaignId,
          type: pf.type,
          plannedMs: pf.plannedMs,
          error: `missed: planned ${this.ctx.now() - pf.plannedMs} ms ago, the worker was unavailable`,
        });
        return;
      }
      await this.applyResolved(fault, pf);
      return;
    }
    await this.serviceUntil(pf.plannedMs - LEAD_MS);
    this.checkHalt();
    const now = this.ctx.now();
    if (now - pf.plannedMs > this.maxLatenessMs) {
      this.append({
        ev: 'failed',
        ts: now,
        id: pf.id,
        campaignId: this.input.campaignId,
        type: pf.type,
        plannedMs: pf.plannedMs,
        error: `missed: planned ${now - pf.plannedMs} ms ago, the worker was unavailable`,
      });
      return;
    }
    const spec = this.input.chaos.faults[pf.specIndex];
    if (!spec || spec.type !== pf.type) {
      this.reject(pf, `fault spec ${pf.specIndex} (${pf.type}) is not in the chaos config`, 'failed');
      return;
    }
    const resolved = await this.resolve(pf, spec);
    if (typeof resolved === 'string') return;
    if (this.injector.timedApply?.(pf.type) === true) {
      // an injector that fires at the planned instant by itself (a trigger thread that checks the halt marker and
      // the fence at that instant) gets the fault now, up to LEAD_MS early, so a main event loop stalled for that
      // long cannot make it late; removals and recovery polls go on meanwhile
      this.checkHalt();
      const applying = this.applyResolved(resolved, pf, pf.plannedMs).then(
        () => undefined,
        (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
      );
      let stop: Error | undefined;
      try {
        await this.serviceUntil(pf.plannedMs - SERVICE_GUARD_MS);
      } catch (err) {
        stop = err instanceof Error ? err : new Error(String(err));
      }
      const failed = await applying;
      if (failed !== undefined) throw failed;
      if (stop !== undefined) throw stop;
      return;
    }
    await this.serviceUntil(pf.plannedMs);
    this.checkHalt();
    await this.applyResolved(resolved, pf);
  }

  private get maxLatenessMs(): number {
    return parseDuration(this.input.chaos.maxLateness);
  }

  private reject(
    pf: PlannedFault,
    error: string,
    ev: 'rejected' | 'failed' = 'rejected',
    target?: FaultRecord['target'],
  ) {
    this.append({
      ev,
      ts: this.ctx.now(),
      id: pf.id,
      campaignId: this.input.campaignId,
      type: pf.type,
      plannedMs: pf.plannedMs,
      error,
      target,
      params: this.input.chaos.faults[pf.specIndex]?.params,
    });
    return error;
  }

  /** Guard + selection; writes `planned` (or `rejected`/`failed`) and returns the fault or the refusal. */
  private async resolve(pf: PlannedFault, spec: FaultSpec): Promise<ResolvedFault | string> {
    const guard = this.input.chaos.guard;
    const specRefusal = checkSpec(guard, spec);
    if (specRefusal) return this.reject(pf, specRefusal);
    const concurrency = checkConcurrency(guard, this.active.size);
    if (concurrency) return this.reject(pf, concurrency);

    const eligibleApps = this.injector.eligibleApps?.bind(this.injector);
    const picked = await selectTarget({
      selector: spec.selector,
      mode: spec.mode,
      value: spec.value,
      guard,
      chaosSeed: this.input.chaos.seed,
      faultId: pf.id,
      podSeed: pf.seed,
      listPods: (labels) => this.injector.listPods(labels),
      ...(eligibleApps ? { eligibleApps: (apps: string[]) => eligibleApps(pf.type, apps) } : {}),
    });
    if ('error' in picked) return this.reject(pf, picked.error, picked.ev, picked.target);
    const { namespace, app, pods: chosen, candidates } = picked;
    const fault: ResolvedFault = {
      id: pf.id,
      campaignId: this.input.campaignId,
      key: faultKey(this.input.campaignId, pf.id),
      type: pf.type,
      namespace,
      app,
      pods: chosen,
      params: { ...spec.params },
      plannedMs: pf.plannedMs,
      endMs: pf.plannedMs + pf.durationMs,
      detail: {},
    };
    fault.detail = {
      key: fault.key,
      pods: chosen,
      readyBefore: candidates.filter((p) => p.ready).length,
      mode: spec.mode,
    };
    if (this.injector.prepare) await this.injector.prepare(fault);
    // the last check before the id enters the log: cleanup reads the log right after it writes its fence
    this.checkHalt();
    this.append({
      ev: 'planned',
      ts: this.ctx.now(),
      id: pf.id,
      campaignId: this.input.campaignId,
      type: pf.type,
      target: { namespace, app, pods: chosen.map((p) => p.name) },
      params: fault.params,
      plannedMs: pf.plannedMs,
      plannedEndMs: fault.endMs,
      detail: fault.detail,
    });
    return fault;
  }

  private async applyResolved(fault: ResolvedFault, pf: PlannedFault, at?: number): Promise<void> {
    let startedMs = this.ctx.now();
    let timing: ApplyTiming | void;
    try {
      timing = await this.injector.apply(
        fault,
        at,
        at === undefined
          ? undefined
          : { haltPath: haltMarkerPath(), fencePath: fencePath(this.input.dataDir), epoch: this.input.epoch ?? 0 },
      );
    } catch (err) {
      if (err instanceof FireRefused) {
        // halted or fenced at the instant of firing: nothing was sent (a later pod of several may have been)
        await this.injector.recover(fault).catch(() => undefined);
        throw this.stopReason() ?? new Stop('halted', err.reason, this.ctx.now());
      }
      // half-applied is possible (one of two pods): undo what may be there, then record the failure
      await this.injector.recover(fault).catch(() => undefined);
      const now = this.ctx.now();
      this.append({ ev: 'removed', ts: now, id: fault.id, note: 'apply failed; undone' });
      this.append({
        ev: 'failed',
        ts: now,
        id: pf.id,
        campaignId: this.input.campaignId,
        type: pf.type,
        plannedMs: pf.plannedMs,
        error: `apply failed: ${(err as Error).message}`,
        target: { namespace: fault.namespace, app: fault.app, pods: fault.pods.map((p) => p.name) },
        params: fault.params,
      });
      return;
    }
    // a timed apply reports when the effect itself happened (its request sent / answered), not when this loop
    // got round to noting it
    const applied = timing?.appliedMs ?? this.ctx.now();
    if (timing?.startedMs !== undefined) startedMs = timing.startedMs;
    this.adherence.push(applied - pf.plannedMs);
    this.markApplied(fault, applied, undefined, startedMs);
    const stop = this.stopReason();
    if (stop && !this.injector.oneShot(fault.type)) {
      // cleanup may have run while this apply was in flight: undo it here so nothing outlives the fence
      await this.injector.recover(fault).catch(() => undefined);
      this.append({ ev: 'removed', ts: this.ctx.now(), id: fault.id, note: `undone: ${stop.reason}` });
      this.active.delete(fault.id);
    }
  }

  private markApplied(fault: ResolvedFault, ts: number, note?: string, startedMs?: number): void {
    this.append({
      ev: 'applied',
      ts,
      id: fault.id,
      ...(startedMs !== undefined ? { startedMs } : {}),
      ...(note ? { note } : {}),
    });
    if (this.injector.oneShot(fault.type)) {
      this.append({ ev: 'removed', ts, id: fault.id, note: 'one-shot' });
      this.watching.set(fault.id, { fault, removedMs: ts, nextPollMs: ts + RECOVERY_POLL_MS });
    } else {
      this.active.set(fault.id, { fault });
    }
  }

  /** Why injection must not happen now (global halt or this campaign's cleanup fence), if it must not. */
  private stopReason(): Stop | undefined {
    const halt = readHalt();
    if (halt) return new Stop('halted', `halted: ${halt.reason}`, this.ctx.now());
    const fence = readFence(this.input.dataDir);
    if (fence && fence.epoch >= (this.input.epoch ?? 0))
      return new Stop('fenced', `fenced: ${fence.reason}`, this.ctx.now());
    return undefined;
  }

  private checkHalt(): void {
    const stop = this.stopReason();
    if (stop) throw stop;
  }

  /** Removes due faults, polls recoveries and checks abort conditions until `untilMs`. */
  private async serviceUntil(untilMs: number): Promise<void> {
    for (;;) {
      const now = this.ctx.now();
      const slack = untilMs - now;
      // work that could overrun the next injection waits until after it
      if (slack > SERVICE_GUARD_MS || slack <= 0) await this.serviceOnce(now);
      const after = this.ctx.now();
      if (after >= untilMs) return;
      let wake = untilMs;
      for (const a of this.active.values()) wake = Math.min(wake, Math.max(a.fault.endMs, after + 1));
      for (const w of this.watching.values()) wake = Math.min(wake, Math.max(w.nextPollMs, after + 1));
      if (this.hasAbortChecks) wake = Math.min(wake, Math.max(this.nextAbortCheckMs, after + 1));
      // no service work just before an injection: it could delay it
      if (wake < untilMs && untilMs - wake < SERVICE_GUARD_MS) wake = untilMs;
      const left = wake - after;
      // a timer to just before the deadline, then setImmediate turns: timers fire a ms or two late
      if (left > SPIN_MS) {
        this.ctx.heartbeat({ next: this.next, sloBreachSince: this.abortState.breachSince });
        await this.ctx.sleep(Math.min(1000, left - SPIN_MS));
      } else await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private get hasAbortChecks(): boolean {
    const a = this.input.chaos.abort;
    return a.slos.length > 0 || a.browserFailuresInARow !== undefined;
  }

  private async serviceOnce(now: number): Promise<void> {
    for (const [id, a] of [...this.active]) {
      if (a.fault.endMs > now) continue;
      let note: string | void;
      try {
        note = await this.injector.recover(a.fault);
      } catch {
        continue; // the target is unreachable: retried on the next tick (local faults also expire by themselves)
      }
      const ts = this.ctx.now();
      this.append({ ev: 'removed', ts, id, ...(note ? { note } : {}) });
      this.active.delete(id);
      this.watching.set(id, { fault: a.fault, removedMs: ts, nextPollMs: ts });
    }
    for (const [id, w] of [...this.watching]) {
      if (w.nextPollMs > now) continue;
      if (now - w.removedMs > RECOVERY_WATCH_MS) {
        this.watching.delete(id);
        continue;
      }
      let ok: boolean;
      try {
        ok = await this.injector.recovered(w.fault, w.removedMs);
      } catch {
        ok = false;
      }
      if (ok) {
        this.append({ ev: 'recovered', ts: this.ctx.now(), id });
        this.watching.delete(id);
      } else {
        w.nextPollMs = this.ctx.now() + RECOVERY_POLL_MS;
      }
    }
    if (this.hasAbortChecks && now >= this.nextAbortCheckMs) {
      this.nextAbortCheckMs = now + parseDuration(this.input.chaos.abort.checkInterval);
      const reason = await checkAbort(this.input, this.abortState, now);
      if (reason) throw new Stop('aborted', reason, this.ctx.now());
    }
    this.checkHalt();
  }
}

/**
 * Removes every fault of a campaign still active in its log (and whatever the target itself lists under the
 * campaign), logs each removal, then watches recovery for up to `watchMs`.
 */
export async function removeAll(
  injector: Injector | undefined,
  log: FaultLog,
  campaignId: string,
  opts: { watchMs?: number; note?: string; now?: () => number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<{ removed: number; unreachable: string[] }> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const records = foldFaultLog(readFaultLogEvents(log.path));
  const removed: { fault: ResolvedFault; at: number }[] = [];
  const unreachable: string[] = [];
  for (const r of activeFaults(records.values())) {
    if (r.campaignId !== campaignId) continue;
    const fault = resolvedFromRecord(r);
    let recoverNote: string | void = undefined;
    try {
      if (injector) recoverNote = await injector.recover(fault, { final: true });
      // with no target only a host process (stress-ng) can be removed
      else if (!stopHostProcess(fault)) throw new Error('no target to remove it from');
    } catch (err) {
      unreachable.push(`${r.id} (${r.type} on ${r.target.app}): ${(err as Error).message}`);
      continue;
    }
    const at = now();
    const note = [opts.note, recoverNote].filter((n) => n).join('; ');
    log.append({ ev: 'removed', ts: at, id: r.id, ...(note ? { note } : {}) });
    removed.push({ fault, at });
  }
  if (injector?.sweep)
    await injector.sweep(campaignId).catch((err: Error) => unreachable.push(`sweep: ${err.message}`));
  // objects the sweep had to finish removing (e.g. their finalizers), noted on their faults
  for (const n of injector?.takeRemovalNotes?.() ?? [])
    if (n.faultId && records.has(n.faultId)) log.append({ ev: 'removed', ts: now(), id: n.faultId, note: n.note });
  // watch recovery of what was just removed (and of earlier removals still unobserved)
  const pending = new Map<string, { fault: ResolvedFault; at: number }>(removed.map((x) => [x.fault.id, x]));
  for (const r of records.values()) {
    if (
      r.campaignId === campaignId &&
      r.removedMs !== undefined &&
      r.appliedMs !== undefined &&
      r.recoveredMs === undefined &&
      now() - r.removedMs < RECOVERY_WATCH_MS
    ) {
      pending.set(r.id, { fault: resolvedFromRecord(r), at: r.removedMs });
    }
  }
  const deadline = now() + (opts.watchMs ?? 0);
  while (injector && pending.size > 0 && now() < deadline) {
    for (const [id, p] of [...pending]) {
      const ok = await injector.recovered(p.fault, p.at).catch(() => false);
      if (ok) {
        log.append({ ev: 'recovered', ts: now(), id });
        pending.delete(id);
      }
    }
    if (pending.size > 0) await sleep(RECOVERY_POLL_MS);
  }
  return { removed: removed.length, unreachable };
}
