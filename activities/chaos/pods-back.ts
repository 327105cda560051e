import type { PodInfo } from '../deploy/types';
import type { ResolvedFault } from './kinds/kind';

/**
 * Observed recovery of a pod fault: as many ready pods of the app as before, and every hit pod either replaced
 * (gone) or ready again after a restart.
 */
export function podsBackFrom(pods: PodInfo[], fault: ResolvedFault<unknown>, sinceMs: number): boolean {
  const before = (fault.detail.readyBefore as number | undefined) ?? fault.pods.length;
  if (pods.filter((p) => p.ready).length < before) return false;
  for (const hit of fault.pods) {
    const now = pods.find((p) => p.name === hit.name);
    if (!now) continue;
    if (!now.ready) return false;
    const restarted = now.restarts > hit.restarts || now.uid !== hit.uid || (now.startedAtMs ?? 0) >= sinceMs - 50;
    if (!restarted) return false;
  }
  return true;
}
