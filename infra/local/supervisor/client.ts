import type { PodInfo } from '../../../activities/deploy/types';
import type { MemoryLeakEntry, ProxyFault } from './api';

export type ProxyFaultEntry = ProxyFault & { app: string; faultId: string };

/** A supervisor API call that failed: the HTTP status (0 when unreachable) and the supervisor's message. */
export class SupervisorError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'SupervisorError';
  }
}

/** Typed client of the supervisor HTTP API (infra/local/supervisor/api.ts). */
export class SupervisorClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new SupervisorError(0, `supervisor at ${this.base} unreachable (${method} ${path}): ${String(err)}`);
    }
    const text = await res.text();
    if (!res.ok) {
      let msg = text;
      try {
        msg = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // plain text error
      }
      throw new SupervisorError(res.status, `supervisor ${method} ${path}: ${res.status} ${msg}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async healthy(signal?: AbortSignal): Promise<boolean> {
    try {
      const res = await fetch(`${this.base}/healthz`, { signal: signal ?? AbortSignal.timeout(2000) });
      return res.ok;
    } catch {
      return false;
    }
  }

  /** selector: label → value, all must match (e.g. {app: 'cartservice'}). */
  listPods(selector: Record<string, string> = {}, signal?: AbortSignal): Promise<PodInfo[]> {
    const sel = Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    return this.call('GET', sel ? `/pods?selector=${encodeURIComponent(sel)}` : '/pods', undefined, signal);
  }

  /** The pod, or undefined when no pod has that name (it was replaced). */
  async getPod(name: string, signal?: AbortSignal): Promise<PodInfo | undefined> {
    try {
      return await this.call<PodInfo>('GET', `/pods/${encodeURIComponent(name)}`, undefined, signal);
    } catch (err) {
      if (err instanceof SupervisorError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** pod-kill: returns the pod as it was; the supervisor replaces it with a new pod after its back-off. */
  async killPod(name: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<PodInfo> {
    const r = await this.call<{ killed: PodInfo }>('POST', `/pods/${encodeURIComponent(name)}/kill`, { signal });
    return r.killed;
  }

  /** pod-failure: kill and keep down until untilMs (UTC epoch ms) or releaseHold. Idempotent by faultId. */
  async holdPod(name: string, faultId: string, untilMs: number): Promise<PodInfo> {
    const r = await this.call<{ held: PodInfo }>('POST', `/pods/${encodeURIComponent(name)}/hold`, {
      faultId,
      untilMs,
    });
    return r.held;
  }

  /** Idempotent: false when the hold (or the pod) no longer exists. */
  async releaseHold(name: string, faultId: string): Promise<boolean> {
    const r = await this.call<{ released: boolean }>(
      'DELETE',
      `/pods/${encodeURIComponent(name)}/hold/${encodeURIComponent(faultId)}`,
    );
    return r.released;
  }

  /** container-kill: the pod's container restarts in place (same name and uid, restarts + 1). */
  async restartPod(name: string): Promise<PodInfo> {
    const r = await this.call<{ restarted: PodInfo }>('POST', `/pods/${encodeURIComponent(name)}/restart`);
    return r.restarted;
  }

  /** memory-leak: the pod's process grows to sizeBytes over durationMs, frees at untilMs. Idempotent by faultId. */
  startMemoryLeak(
    name: string,
    faultId: string,
    leak: { sizeBytes: number; durationMs: number; untilMs: number },
  ): Promise<MemoryLeakEntry> {
    return this.call('PUT', `/pods/${encodeURIComponent(name)}/memory-leak/${encodeURIComponent(faultId)}`, leak);
  }

  /** Idempotent: false when the leak was no longer active. */
  async stopMemoryLeak(name: string, faultId: string): Promise<boolean> {
    const r = await this.call<{ removed: boolean }>(
      'DELETE',
      `/pods/${encodeURIComponent(name)}/memory-leak/${encodeURIComponent(faultId)}`,
    );
    return r.removed;
  }

  listMemoryLeaks(): Promise<MemoryLeakEntry[]> {
    return this.call('GET', '/memory-leaks');
  }

  async signalPod(name: string, signal: 'SIGSTOP' | 'SIGCONT'): Promise<void> {
    await this.call('POST', `/pods/${encodeURIComponent(name)}/signal`, { signal });
  }

  async podPid(name: string): Promise<number> {
    const r = await this.call<{ pid: number }>('GET', `/pods/${encodeURIComponent(name)}/pid`);
    return r.pid;
  }

  /** Idempotent by faultId (a retry replaces the same fault). */
  async putProxyFault(app: string, faultId: string, fault: ProxyFault): Promise<void> {
    await this.call('PUT', `/proxy/${encodeURIComponent(app)}/faults/${encodeURIComponent(faultId)}`, fault);
  }

  /** Idempotent: resolves whether or not the fault still existed. */
  async deleteProxyFault(app: string, faultId: string): Promise<boolean> {
    const r = await this.call<{ removed: boolean }>(
      'DELETE',
      `/proxy/${encodeURIComponent(app)}/faults/${encodeURIComponent(faultId)}`,
    );
    return r.removed;
  }

  listProxyFaults(): Promise<ProxyFaultEntry[]> {
    return this.call('GET', '/proxy/faults');
  }

  async metricsText(): Promise<string> {
    const res = await fetch(`${this.base}/metrics`, { signal: AbortSignal.timeout(this.timeoutMs) });
    return res.text();
  }
}
