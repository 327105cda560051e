import type { MemoryLeakEntry, PodInfo, ProxyFault } from '../../infra/local/supervisor/api';
import { Agent, request as httpRequest, type ClientRequest } from 'node:http';
import { targetUnavailable } from './errors';
import { fireAt, type FireGuard, type TimedResponse } from './trigger-thread';

/** When a timed apply took effect: its first request sent, its last one answered (epoch ms, trigger thread). */
export interface ApplyTiming {
  startedMs?: number;
  appliedMs?: number;
}

/**
 * One kept-alive pool for every supervisor client in the process. Idle sockets are dropped after 2 s, before the
 * server's own 5 s keep-alive timeout, so a request never lands on a socket the server is closing.
 */
const supervisorAgent = new Agent({ keepAlive: true, maxSockets: 16, timeout: 2000 });

/**
 * The calls the local injectors make on the supervisor (infra/local/supervisor/api.ts). Kept here, small,
 * so purge works from the CLI with nothing but a URL.
 */
export class SupervisorHttp {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 5000,
  ) {}

  /** Set on a timed view: its first request fires at `at`, and every request goes through the trigger thread. */
  private trigger?: { at: number; timing: ApplyTiming; guard?: FireGuard };

  /**
   * A view of this client whose first request is sent at `at` exactly, from the trigger thread (trigger-thread.ts),
   * the rest right after; `timing` receives when the first was sent and the last answered.
   */
  timed(at: number, timing: ApplyTiming, guard?: FireGuard): SupervisorHttp {
    const view = new SupervisorHttp(this.baseUrl, this.timeoutMs);
    view.trigger = { at, timing, ...(guard ? { guard } : {}) };
    return view;
  }

  private url(path: string): string {
    return `${this.baseUrl.replace(/\/$/, '')}${path}`;
  }

  /** Starts the trigger thread and opens its kept-alive connection (a cheap GET), so a timed request finds both. */
  warm(): void {
    fireAt({
      at: 0,
      method: 'GET',
      url: this.url('/healthz'),
      timeoutMs: this.timeoutMs,
    }).catch(() => undefined);
  }

  private async callTimed<T>(
    trigger: { at: number; timing: ApplyTiming; guard?: FireGuard },
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const url = this.url(path);
    let r: TimedResponse;
    try {
      r = await fireAt({
        at: trigger.at,
        method,
        url,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        timeoutMs: this.timeoutMs,
        ...(trigger.guard ? { guard: trigger.guard } : {}),
      });
    } catch (err) {
      throw targetUnavailable(`supervisor ${method} ${url} failed: ${(err as Error).message}`, err as Error);
    }
    if (r.refused !== undefined) throw new FireRefused(r.refused);
    trigger.at = 0;
    trigger.timing.startedMs ??= r.startedMs;
    trigger.timing.appliedMs = r.endedMs;
    if (r.error !== undefined) {
      const err = new Error(r.error);
      throw targetUnavailable(`supervisor ${method} ${url} failed: ${r.error}`, err);
    }
    return parseReply<T>(method, path, r.status ?? 0, r.text ?? '');
  }

  private call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    if (this.trigger) return this.callTimed<T>(this.trigger, method, path, body);
    const url = this.url(path);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(
          err instanceof SupervisorError
            ? err
            : targetUnavailable(`supervisor ${method} ${url} failed: ${err.message}`, err),
        );
      };
      let req: ClientRequest;
      try {
        // a kept-alive connection: an injection is one request on a warm socket, not a TCP handshake
        req = httpRequest(url, {
          method,
          agent: supervisorAgent,
          headers:
            payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        });
      } catch (err) {
        fail(err as Error);
        return;
      }
      const timer = setTimeout(() => req.destroy(new Error(`timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
      if (signal) {
        if (signal.aborted) req.destroy(new Error('aborted'));
        else signal.addEventListener('abort', () => req.destroy(new Error('aborted')), { once: true });
      }
      req.on('error', fail);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          if (settled) return;
          try {
            const value = parseReply<T>(method, path, res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'));
            settled = true;
            clearTimeout(timer);
            resolve(value);
          } catch (err) {
            fail(err as Error);
          }
        });
      });
      req.end(payload);
    });
  }

  listPods(selector: Record<string, string>, signal?: AbortSignal): Promise<PodInfo[]> {
    const sel = Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    return this.call('GET', `/pods${sel ? `?selector=${encodeURIComponent(sel)}` : ''}`, undefined, signal);
  }
  async getPod(name: string): Promise<PodInfo | undefined> {
    try {
      return await this.call<PodInfo>('GET', `/pods/${encodeURIComponent(name)}`);
    } catch (err) {
      if (err instanceof SupervisorError && err.status === 404) return undefined;
      throw err;
    }
  }
  kill(pod: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<unknown> {
    return this.call('POST', `/pods/${encodeURIComponent(pod)}/kill`, { signal });
  }
  hold(pod: string, faultId: string, untilMs: number): Promise<unknown> {
    return this.call('POST', `/pods/${encodeURIComponent(pod)}/hold`, { faultId, untilMs });
  }
  release(pod: string, faultId: string): Promise<unknown> {
    return this.call('DELETE', `/pods/${encodeURIComponent(pod)}/hold/${encodeURIComponent(faultId)}`);
  }
  putProxyFault(app: string, faultId: string, fault: ProxyFault): Promise<unknown> {
    return this.call('PUT', `/proxy/${encodeURIComponent(app)}/faults/${encodeURIComponent(faultId)}`, fault);
  }
  deleteProxyFault(app: string, faultId: string): Promise<unknown> {
    return this.call('DELETE', `/proxy/${encodeURIComponent(app)}/faults/${encodeURIComponent(faultId)}`);
  }
  listProxyFaults(): Promise<(ProxyFault & { app: string; faultId: string })[]> {
    return this.call('GET', '/proxy/faults');
  }
  /** The pod's process and, where the supervisor runs pods in cgroups, the pod's cgroup directories. */
  podPid(pod: string): Promise<{ pid: number; cgroups?: string[] }> {
    return this.call('GET', `/pods/${encodeURIComponent(pod)}/pid`);
  }
  /** container-kill: restart the pod's container in place (same name and uid, restarts + 1); 409 if not running. */
  restartInPlace(pod: string): Promise<{ restarted: PodInfo }> {
    return this.call('POST', `/pods/${encodeURIComponent(pod)}/restart`);
  }
  /** memory-leak: the pod's own process grows to sizeBytes over durationMs, frees at untilMs. Idempotent by id. */
  startMemoryLeak(
    pod: string,
    faultId: string,
    leak: { sizeBytes: number; durationMs: number; untilMs: number },
  ): Promise<MemoryLeakEntry> {
    return this.call('PUT', `/pods/${encodeURIComponent(pod)}/memory-leak/${encodeURIComponent(faultId)}`, leak);
  }
  /** Idempotent (200 whether or not the leak was still active). */
  stopMemoryLeak(pod: string, faultId: string): Promise<{ removed: boolean }> {
    return this.call('DELETE', `/pods/${encodeURIComponent(pod)}/memory-leak/${encodeURIComponent(faultId)}`);
  }
  listMemoryLeaks(): Promise<MemoryLeakEntry[]> {
    return this.call('GET', '/memory-leaks');
  }
}

/** A supervisor answer: its JSON body, or a SupervisorError carrying a non-2xx status and the start of the body. */
function parseReply<T>(method: string, path: string, status: number, text: string): T {
  if (status < 200 || status >= 300)
    throw new SupervisorError(`supervisor ${method} ${path} → ${status} ${text.slice(0, 300)}`, status);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A timed request the trigger thread did not send because the halt marker or the fence said stop. */
export class FireRefused extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'FireRefused';
  }
}

export class SupervisorError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'SupervisorError';
  }
}
