import type { Server } from 'node:net';

/** A listen failure with the fix in its message (the boutique's main.ts prints it and exits 1). */
export class ListenError extends Error {
  override name = 'ListenError';
}

/** `setting` names where the port comes from (an env variable, a config field), so the hint says what to change. */
export function listenHint(err: unknown, host: string, port: number, setting: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const text = err instanceof Error ? err.message : String(err);
  if (code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(text)) {
    return `port ${port} on ${host} is already in use (${setting}); stop whatever listens there (e.g. \`ss -ltnp 'sport = :${port}'\`) or choose another ${setting}`;
  }
  if (code === 'EACCES' || /EACCES/.test(text)) {
    return `no permission to listen on ${host}:${port} (${setting}); use a port above 1023`;
  }
  return `cannot listen on ${host}:${port} (${setting}): ${text}`;
}

/** Listens (any net.Server: http, a TCP proxy) and turns a failure into a ListenError that says what to do. */
export async function listenOn(server: Server, host: string, port: number, setting: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new ListenError(listenHint(err, host, port, setting)));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
