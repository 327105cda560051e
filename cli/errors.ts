/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  error: 1,
  /** bad flags or an invalid campaign config: nothing was started */
  usage: 2,
  /** the campaign (or what --wait waited for) failed */
  failed: 3,
  /** the campaign was stopped before completing */
  stopped: 4,
  /** Temporal (or another required service) is not reachable */
  unavailable: 5,
} as const;

/** An error the CLI prints as-is (no stack) and exits with `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    public readonly code: number = EXIT.error,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
