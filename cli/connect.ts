import { Client, Connection } from '@temporalio/client';
import { TemporalConfigError, temporalEnv, type TemporalEnv } from '../infra/temporal/connection-options';
import { CliError, EXIT } from './errors';

export interface ConnectOptions {
  address?: string;
  namespace?: string;
}

/** A Temporal client, or a clear error saying how to start the server. */
export async function connectClient(
  opts: ConnectOptions = {},
): Promise<{ client: Client; close: () => Promise<void> }> {
  let env: TemporalEnv;
  try {
    env = temporalEnv();
  } catch (err) {
    if (err instanceof TemporalConfigError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
  const address = opts.address ?? env.address;
  const namespace = opts.namespace ?? env.namespace;
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, connectTimeout: 5000, apiKey: env.apiKey, tls: env.tls });
    await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    const hint = env.tls
      ? `  check the certificate files (TEMPORAL_TLS_*), TEMPORAL_TLS_SERVER_NAME and that the server expects TLS`
      : `  start a local server with \`faultline up\`, or set TEMPORAL_ADDRESS / --address (TEMPORAL_TLS_* for TLS)`;
    throw new CliError(
      `cannot reach Temporal at ${address} (namespace ${namespace}, ${env.security}): ${(err as Error).message}\n${hint}`,
      EXIT.unavailable,
    );
  }
  return { client: new Client({ connection, namespace }), close: () => connection.close() };
}
