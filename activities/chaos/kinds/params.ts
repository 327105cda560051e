/** zod pieces several kinds' params share (pure: part of the workflow bundle through schemas/faults.ts). */
import { z } from 'zod';

export const percent = z.number().min(0).max(100);

/** Chaos Mesh's latency pattern, so a spec converts to a NetworkChaos without surprises. */
export const latency = z
  .string()
  .regex(/^[0-9]+(\.[0-9]+)?(ms|s|m)$/, 'must be a latency such as "200ms", "1.5s" (units ms, s, m)');

/** HTTPChaos request match: port (default: the app's container port), path and method. */
export const httpMatch = {
  port: z.number().int().min(1).max(65535).optional(),
  path: z.string().optional(),
  method: z.string().optional(),
};

/** `port`/`path`/`method` of an HTTP kind's params as HTTPChaos fields (port falls back to the app's port). */
export function httpChaosMatch(
  p: { port?: number | undefined; path?: string | undefined; method?: string | undefined },
  app: string,
  portOf: (app: string) => number,
): Record<string, unknown> {
  return {
    target: 'Request',
    port: p.port ?? portOf(app),
    ...(p.path !== undefined ? { path: p.path } : {}),
    ...(p.method !== undefined ? { method: p.method } : {}),
  };
}
