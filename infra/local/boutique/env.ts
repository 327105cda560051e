/**
 * Environment contract of a boutique stand-in process. Everything is configured like upstream:
 * by env vars only, so the supervisor can start any service with the same command line.
 */

/** A configuration problem the operator must fix; main.ts prints it and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function requiredEnv(env: NodeJS.ProcessEnv, name: string, hint: string): string {
  const v = env[name]?.trim();
  if (!v) throw new ConfigError(`environment variable ${name} is required (${hint})`);
  return v;
}

export function portFrom(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new ConfigError(`${name}=${JSON.stringify(value)} is not a TCP port (1-65535)`);
  }
  return n;
}

export function requiredPort(env: NodeJS.ProcessEnv, name: string, hint: string): number {
  return portFrom(requiredEnv(env, name, hint), name);
}

export function optionalPort(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name]?.trim();
  return v ? portFrom(v, name) : undefined;
}

/** A dependency address `host:port` (upstream style, e.g. CART_SERVICE_ADDR=cartservice:7070). */
export function requiredAddr(env: NodeJS.ProcessEnv, name: string): string {
  const v = requiredEnv(env, name, 'host:port of the dependency');
  const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d+)$/.exec(v);
  if (!m) throw new ConfigError(`${name}=${JSON.stringify(v)} must be host:port`);
  portFrom(m[2] ?? '', name);
  return v;
}

export function positiveIntEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name]?.trim();
  if (!v) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${name}=${JSON.stringify(v)} must be a positive integer`);
  return n;
}
