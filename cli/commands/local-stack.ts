import { faultlineHome } from '../../infra/home';

/**
 * `faultline up`'s local target stack (redis, supervisor + boutique, node-exporter, Prometheus) with the
 * default local target settings. Implemented in infra/local/stack.ts; loaded lazily so `faultline up
 * --no-stack` works on a machine without the stack's Debian packages.
 */
export async function ensureLocalStackForCli(home = faultlineHome()): Promise<Record<string, unknown>> {
  const { ensureStack } = await import('../../infra/local/stack');
  const { localTargetSchema } = await import('../../schemas/target');
  const target = localTargetSchema.parse({ type: 'local' });
  const s = await ensureStack({ home, target });
  return s as unknown as Record<string, unknown>;
}

export async function stopLocalStackForCli(home = faultlineHome()): Promise<string[]> {
  try {
    const { stopStack } = await import('../../infra/local/stack');
    await stopStack({ home });
    return ['local stack'];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return [];
    throw err;
  }
}
