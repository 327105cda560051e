/** Puts an environment variable a suite set back to what it was (unset when it was unset). */
export function restoreEnv(name: string, previous: string | undefined): void {
  if (previous === undefined) delete process.env[name];
  else process.env[name] = previous;
}
