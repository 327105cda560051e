/** Why the local cluster could not start; the message says what to do. */
export class ClusterError extends Error {
  override name = 'ClusterError';
  constructor(
    message: string,
    /** missing: binaries not built; port-taken: another process holds a port; failed: a component did not come up. */
    readonly reason: 'missing' | 'port-taken' | 'failed' = 'failed',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
