/** Local helpers of the pod kinds (pure: only the supervisor passed in the context is used). */
import { podsBackFrom } from '../pods-back';
import type { LocalKindContext, ResolvedFault } from './kind';

/** A pod is back when the app has as many ready pods as before and each hit pod restarted or was replaced. */
export async function podsBack(
  ctx: LocalKindContext,
  fault: ResolvedFault<unknown>,
  sinceMs: number,
): Promise<boolean> {
  return podsBackFrom(await ctx.supervisor.listPods({ app: fault.app }), fault, sinceMs);
}
