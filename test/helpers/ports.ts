import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports handed to services are taken below the kernel's ephemeral range, so an outgoing connection (a
 * scrape, a gRPC client) can never grab one between the probe and the service's bind; and no port is
 * handed out twice in this process, so a single port never lands inside a range given to a stack.
 */
const handedOut = new Set<number>();
const LOWEST = 10_000;

function ephemeralLow(): number {
  try {
    const lo = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(lo) && lo > LOWEST + 2_000) return lo;
  } catch {
    // not Linux: the usual default
  }
  return 32_768;
}

/** A free TCP port on 127.0.0.1, outside the ephemeral range and not handed out before. */
export async function freePort(): Promise<number> {
  return freePortRange(1);
}

/** A base port with `span` consecutive free ports above it (for the local stack's fixed offsets). */
export async function freePortRange(span: number): Promise<number> {
  const top = ephemeralLow() - span;
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = LOWEST + Math.floor(Math.random() * (top - LOWEST));
    let ok = true;
    for (let p = base; p < base + span && ok; p++) ok = !handedOut.has(p) && (await isFree(p));
    if (ok) {
      for (let p = base; p < base + span; p++) handedOut.add(p);
      return base;
    }
  }
  throw new Error(`no free range of ${span} ports found below ${top + span}`);
}

export async function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Polls `check` until it returns a truthy value or the timeout passes (wait for conditions, not time). */
export async function waitUntil<T>(check: () => Promise<T> | T, timeoutMs: number, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
