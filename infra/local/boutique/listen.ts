import type { Server } from 'node:http';

/** A listen failure with the fix in its message (main.ts prints it and exits 1). */
export class ListenError extends Error {
  override name = 'ListenError';
}

export function listenHint(err: unknown, host: string, port: number, envName: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const text = err instanceof Error ? err.message : String(err);
  if (code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(text)) {
    return `port ${port} on ${host} is already in use (${envName}); stop whatever listens there (e.g. \`ss -ltnp 'sport = :${port}'\`) or choose another ${envName}`;
  }
  if (code === 'EACCES' || /EACCES/.test(text)) {
    return `no permission to listen on ${host}:${port} (${envName}); use a port above 1023`;
  }
  return `cannot listen on ${host}:${port} (${envName}): ${text}`;
}

export async function listenHttp(server: Server, host: string, port: number, envName: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new ListenError(listenHint(err, host, port, envName)));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
