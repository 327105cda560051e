import { cancellationSignal, sleep } from './activity-context';
import { badQuery, unavailable } from './errors';

/** Prometheus refuses query_range above 11,000 points per series; stay clearly below it. */
export const MAX_POINTS_PER_CHUNK = 10_000;

export interface QueryRangeOptions {
  /** Points per request (≤ MAX_POINTS_PER_CHUNK). */
  maxPointsPerChunk?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Attempts per chunk before giving up (back-off doubles from backoffMs, with jitter). */
  attempts?: number;
  backoffMs?: number;
  fetchImpl?: typeof fetch;
  /** Called after each chunk (heartbeat hook). */
  onChunk?: (done: number, total: number) => void;
}

/** The aligned grid of a phase: every multiple of stepMs in [startMs, endMs]. */
export function gridOf(startMs: number, endMs: number, stepMs: number): Float64Array {
  const first = Math.ceil(startMs / stepMs) * stepMs;
  const n = first > endMs ? 0 : Math.floor((endMs - first) / stepMs) + 1;
  const ts = new Float64Array(n);
  for (let i = 0; i < n; i++) ts[i] = first + i * stepMs;
  return ts;
}

/**
 * The grid of each phase, in the order given, without a point that an earlier phase already has. Phases that
 * follow each other share their boundary instant (the campaign records one phase's end and the next one's start
 * in the same workflow task, so they are equal): when it lies on the grid, the point belongs to the earlier
 * phase (no fault is active at the instant chaos starts), so the phase tables never repeat a timestamp.
 */
export function phaseGrids(phases: ReadonlyArray<{ startMs: number; endMs: number }>, stepMs: number): Float64Array[] {
  let last = -Infinity;
  return phases.map((p) => {
    const grid = gridOf(Math.max(p.startMs, last + stepMs), p.endMs, stepMs);
    if (grid.length) last = Math.max(last, grid[grid.length - 1] as number);
    return grid;
  });
}

/** The chunks [startMs, endMs] (inclusive, on the grid) of at most maxPoints points each. */
export function chunksOf(grid: Float64Array, maxPoints: number): Array<{ from: number; to: number }> {
  const out: Array<{ from: number; to: number }> = [];
  for (let i = 0; i < grid.length; i += maxPoints) out.push({ from: i, to: Math.min(grid.length, i + maxPoints) - 1 });
  return out;
}

interface PromResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
}

class RetryableHttpError extends Error {}

/**
 * One feature over the grid: a Float64Array aligned with `grid`, NaN where Prometheus returned no
 * sample (a gap; never filled here). A query yielding more than one series is a configuration error.
 */
export async function queryRangeAligned(
  baseUrl: string,
  feature: { name: string; query: string },
  grid: Float64Array,
  stepMs: number,
  opts: QueryRangeOptions = {},
): Promise<Float64Array> {
  const maxPoints = Math.min(opts.maxPointsPerChunk ?? MAX_POINTS_PER_CHUNK, MAX_POINTS_PER_CHUNK);
  const out = new Float64Array(grid.length).fill(NaN);
  const chunks = chunksOf(grid, maxPoints);
  const first = grid[0] ?? 0;
  for (const [k, c] of chunks.entries()) {
    const startMs = grid[c.from] as number;
    const endMs = grid[c.to] as number;
    const body = await requestWithRetry(baseUrl, feature, startMs, endMs, stepMs, opts);
    const result = body.data?.result ?? [];
    if (body.data?.resultType !== 'matrix') {
      throw badQuery(
        `feature ${feature.name}: expected a range vector result, got ${body.data?.resultType ?? 'nothing'}`,
      );
    }
    if (result.length > 1) {
      const labels = result.slice(0, 3).map((s) => JSON.stringify(s.metric));
      throw badQuery(
        `feature ${feature.name}: the query yields ${result.length} series (e.g. ${labels.join(', ')}); ` +
          `aggregate it to one series (sum/avg) — query: ${feature.query}`,
      );
    }
    for (const [tsSec, v] of result[0]?.values ?? []) {
      // Prometheus evaluates exactly at start + k·step; round guards float seconds.
      const idx = Math.round((tsSec * 1000 - first) / stepMs);
      if (idx < c.from || idx > c.to) continue;
      out[idx] = Number(v); // "NaN", "+Inf" parse as such; the cleaner treats non-finite values as gaps
    }
    opts.onChunk?.(k + 1, chunks.length);
  }
  return out;
}

async function requestWithRetry(
  baseUrl: string,
  feature: { name: string; query: string },
  startMs: number,
  endMs: number,
  stepMs: number,
  opts: QueryRangeOptions,
): Promise<PromResponse> {
  const attempts = opts.attempts ?? 5;
  const backoff = opts.backoffMs ?? 250;
  const doFetch = opts.fetchImpl ?? fetch;
  const url = `${baseUrl.replace(/\/$/, '')}/api/v1/query_range`;
  const form = new URLSearchParams({
    query: feature.query,
    start: (startMs / 1000).toFixed(3),
    end: (endMs / 1000).toFixed(3),
    step: `${stepMs / 1000}`,
  });
  let lastErr: Error | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const cancel = cancellationSignal();
    if (cancel?.aborted) throw cancel.reason instanceof Error ? cancel.reason : new Error('cancelled');
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? 30_000);
    const signal = cancel ? AbortSignal.any([cancel, timeout]) : timeout;
    try {
      const res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        signal,
      });
      const text = await res.text();
      if (res.status === 400 || res.status === 422) {
        let msg = text;
        try {
          msg = (JSON.parse(text) as PromResponse).error ?? text;
        } catch {
          /* not JSON: keep the text */
        }
        throw badQuery(
          `feature ${feature.name}: Prometheus rejected the query (${res.status}): ${msg} — query: ${feature.query}`,
        );
      }
      if (!res.ok) throw new RetryableHttpError(`HTTP ${res.status}: ${text.slice(0, 200)}`);
      const body = JSON.parse(text) as PromResponse;
      if (body.status !== 'success') throw new RetryableHttpError(`${body.errorType ?? 'error'}: ${body.error ?? ''}`);
      return body;
    } catch (err) {
      if (cancel?.aborted) throw err;
      if (!(err instanceof RetryableHttpError) && !(err instanceof TypeError) && !isAbort(err)) throw err;
      lastErr = err as Error;
      if (attempt < attempts) await sleep(backoff * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
    }
  }
  throw unavailable(
    `feature ${feature.name}: query_range ${new Date(startMs).toISOString()}..${new Date(endMs).toISOString()} ` +
      `failed ${attempts} times: ${lastErr?.message ?? 'unknown error'}`,
    lastErr,
  );
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}
