/**
 * One JSON object per line on stderr (the supervisor captures it as the pod's log). Only lifecycle
 * events and failures are logged: a per-request log would cost CPU the 2-core budget cannot spare.
 */
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export function createLogger(service: string, pod: string): Logger {
  const write = (severity: string, msg: string, fields?: LogFields): void => {
    process.stderr.write(`${JSON.stringify({ ts: Date.now(), severity, service, pod, msg, ...fields })}\n`);
  };
  return {
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
