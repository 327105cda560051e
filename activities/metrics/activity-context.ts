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
