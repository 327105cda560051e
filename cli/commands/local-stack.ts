import { faultlineHome } from '../../infra/home';
import { ensureStack, stopStack } from '../../infra/local/stack';
import { localTargetSchema } from '../../schemas/target';

/** `faultline up`'s local target stack (redis, supervisor + boutique, node-exporter, Prometheus) with default settings. */
export async function ensureLocalStackForCli(home = faultlineHome()): Promise<Record<string, unknown>> {
  const target = localTargetSchema.parse({ type: 'local' });
  const s = await ensureStack({ home, target });
  return s as unknown as Record<string, unknown>;
}

export async function stopLocalStackForCli(home = faultlineHome()): Promise<string[]> {
  await stopStack({ home });
  return ['local stack'];
}
