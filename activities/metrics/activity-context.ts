import { asyncLocalStorage, heartbeat as temporalHeartbeat, sleep as temporalSleep } from '@temporalio/activity';

/**
 * The same code runs inside an activity (worker) and outside one (CLI, tests, benchmark): these
 * helpers use the activity context when there is one and plain Node otherwise.
 */
export function inActivity(): boolean {
  return asyncLocalStorage.getStore() !== undefined;
}

export function heartbeat(details?: unknown): void {
  if (inActivity()) temporalHeartbeat(details);
}

export function heartbeatDetails<T>(): T | undefined {
  const ctx = asyncLocalStorage.getStore();
  return ctx ? (ctx.info.heartbeatDetails as T | undefined) : undefined;
}

export function cancellationSignal(): AbortSignal | undefined {
  return asyncLocalStorage.getStore()?.cancellationSignal;
}

export async function sleep(ms: number): Promise<void> {
  if (inActivity()) return temporalSleep(ms);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Heartbeats `details()` every `everyMs` while work runs (the workflow's heartbeat timeout is 10 s;
 * one slow query_range or a long write must not look like a dead worker). Returns the stop function.
 */
export function startHeartbeat(details: () => unknown, everyMs = 2000): () => void {
  if (!inActivity()) return () => undefined;
  const timer = setInterval(() => heartbeat(details()), everyMs);
  return () => clearInterval(timer);
}

/** Lets timers (heartbeats) and I/O run between CPU-bound steps. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
