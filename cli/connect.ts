import { Client, Connection } from '@temporalio/client';
import { CliError, EXIT } from './errors';

export interface ConnectOptions {
  address?: string;
  namespace?: string;
}

/** A Temporal client, or a clear error saying how to start the server. */
export async function connectClient(
  opts: ConnectOptions = {},
): Promise<{ client: Client; close: () => Promise<void> }> {
  const address = opts.address ?? process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  const namespace = opts.namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default';
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address,
      connectTimeout: 5000,
      apiKey: process.env.TEMPORAL_API_KEY || undefined,
      tls: process.env.TEMPORAL_TLS === 'true' || !!process.env.TEMPORAL_API_KEY,
    });
    await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    throw new CliError(
      `cannot reach Temporal at ${address} (namespace ${namespace}): ${(err as Error).message}\n` +
        `  start a local server with \`faultline up\`, or set TEMPORAL_ADDRESS / --address`,
      EXIT.unavailable,
    );
  }
  return { client: new Client({ connection, namespace }), close: () => connection.close() };
}
