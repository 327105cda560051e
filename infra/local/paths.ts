import path from 'node:path';

/** faultline's home for local state (stack pid files, Prometheus TSDB, campaigns): FAULTLINE_HOME or <cwd>/.data. */
export function faultlineHome(): string {
  return path.resolve(process.env.FAULTLINE_HOME ?? path.join(process.cwd(), '.data'));
}

/** Where the local stack keeps pid files, configs, logs and data: <home>/stack. */
export function stackDir(home: string = faultlineHome()): string {
  return path.join(home, 'stack');
}

/** The repository root (this file compiles to <root>/lib/infra/local/paths.js). */
export function repoRoot(): string {
  return path.resolve(__dirname, '..', '..', '..');
}

/** Compiled entry points, resolved from the repo root so they work from any cwd. */
export function supervisorMainPath(): string {
  return path.join(repoRoot(), 'lib', 'infra', 'local', 'supervisor', 'main.js');
}

export function boutiqueMainPath(): string {
  return path.join(repoRoot(), 'lib', 'infra', 'local', 'boutique', 'main.js');
}
