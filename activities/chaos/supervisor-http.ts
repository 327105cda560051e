import type { PodInfo, ProxyFault } from '../../infra/local/supervisor/api';
import { targetUnavailable } from './errors';

/**
 * The calls the local injectors make on the supervisor (infra/local/supervisor/api.ts). Kept here, small,
 * so purge works from the CLI with nothing but a URL.
 */
export class SupervisorHttp {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 5000,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const url = `${this.baseUrl.replace(/\/$/, '')}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      throw targetUnavailable(`supervisor ${method} ${url} failed: ${(err as Error).message}`, err as Error);
    }
    const text = await res.text();
    if (!res.ok) {
      const e = new SupervisorError(`supervisor ${method} ${path} → ${res.status} ${text.slice(0, 300)}`, res.status);
      throw e;
    }
    return (text ? JSON.parse(text) : undefined) as T;
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
  podPid(pod: string): Promise<{ pid: number }> {
    return this.call('GET', `/pods/${encodeURIComponent(pod)}/pid`);
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
