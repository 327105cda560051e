import path from 'node:path';
import type { AppSpec } from '../../infra/local/supervisor/config';

/** The supervisor's test app (test/fixtures/supervisor-app.ts, built to lib/test/fixtures). */
export const FIXTURE_APP = path.join(__dirname, '..', 'fixtures', 'supervisor-app.js');

/**
 * One fixture app on ports base + offset (its Service) and the next four (two pods, each a port and a metrics
 * port): `mode` picks the fixture's protocol. `extra` overrides any field (routes, env, replicas…).
 */
export function fixtureApp(
  base: number,
  app: string,
  mode: 'grpc' | 'http',
  offset: number,
  extra: Partial<AppSpec> = {},
): AppSpec {
  return {
    app,
    replicas: 1,
    protocol: mode,
    publicPort: base + offset,
    podPorts: [0, 1].map((s) => ({ port: base + offset + 1 + 2 * s, metricsPort: base + offset + 2 + 2 * s })),
    metricsOn: mode === 'http' ? 'port' : 'metricsPort',
    command: process.execPath,
    args: [FIXTURE_APP],
    env: { FIXTURE_MODE: mode },
    ...extra,
  };
}
