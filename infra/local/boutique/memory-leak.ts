import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * The memory-leak fault inside a boutique process: memory the process itself allocates and touches, growing
 * linearly to `sizeBytes` over `durationMs`, held until the supervisor says stop or `untilMs` passes (so a
 * supervisor that died cannot leave it). It shows in the pod's own RSS, cgroup memory and
 * container_memory_working_set_bytes, as a leak in the service would.
 *
 * Messages on the supervisor's IPC channel (the pod was spawned with one; see supervisor/pods.ts):
 *   supervisor → pod  {type: 'memory-leak', faultId, sizeBytes, durationMs, untilMs}   start (idempotent by faultId)
 *   supervisor → pod  {type: 'memory-leak-stop', faultId}                              free it now
 *   pod → supervisor  {type: 'hello', capabilities: ['memory-leak']}                   sent once at start
 */
export type LeakMessage =
  | { type: 'memory-leak'; faultId: string; sizeBytes: number; durationMs: number; untilMs: number }
  | { type: 'memory-leak-stop'; faultId: string };

/** Allocation unit: 4 MiB chunks, each its own mmap (above glibc's threshold), so freeing returns it to the OS. */
const CHUNK = 4 * 1024 * 1024;
const STEP_MS = 100;

// A full collection right after the references go, so the freed chunks leave RSS now rather than at V8's leisure.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

interface Leak {
  chunks: Buffer[];
  held: number;
  timer: NodeJS.Timeout;
}

export class MemoryLeaks {
  private readonly leaks = new Map<string, Leak>();

  start(m: Extract<LeakMessage, { type: 'memory-leak' }>): void {
    if (this.leaks.has(m.faultId) || m.untilMs <= Date.now()) return;
    const startedAt = Date.now();
    const leak: Leak = { chunks: [], held: 0, timer: setInterval(() => this.grow(m, leak, startedAt), STEP_MS) };
    this.leaks.set(m.faultId, leak);
    this.grow(m, leak, startedAt);
  }

  private grow(m: Extract<LeakMessage, { type: 'memory-leak' }>, leak: Leak, startedAt: number): void {
    const now = Date.now();
    if (now >= m.untilMs) {
      this.stop(m.faultId);
      return;
    }
    const share = m.durationMs > 0 ? Math.min(1, (now - startedAt) / m.durationMs) : 1;
    const target = Math.floor(m.sizeBytes * share);
    while (leak.held < target) {
      const n = Math.min(CHUNK, target - leak.held);
      // fill touches every page: an untouched allocation would not count in RSS
      leak.chunks.push(Buffer.allocUnsafeSlow(n).fill(0x5a));
      leak.held += n;
    }
  }

  stop(faultId: string): void {
    const leak = this.leaks.get(faultId);
    if (!leak) return;
    clearInterval(leak.timer);
    leak.chunks.length = 0;
    this.leaks.delete(faultId);
    collect();
  }

  held(): number {
    let n = 0;
    for (const l of this.leaks.values()) n += l.held;
    return n;
  }
}

/** Serves the supervisor's channel when this process has one (started by the supervisor); no-op otherwise. */
export function serveSupervisorChannel(leaks = new MemoryLeaks()): void {
  if (!process.send || !process.channel) return;
  process.on('message', (raw: unknown) => {
    const m = raw as Partial<LeakMessage> | null;
    if (m?.type === 'memory-leak' && typeof m.faultId === 'string') {
      leaks.start(m as Extract<LeakMessage, { type: 'memory-leak' }>);
    } else if (m?.type === 'memory-leak-stop' && typeof m.faultId === 'string') {
      leaks.stop(m.faultId);
    }
  });
  // a supervisor gone: nothing can stop the leak but its untilMs, which the leak keeps itself
  process.on('disconnect', () => undefined);
  process.send({ type: 'hello', capabilities: ['memory-leak'] });
  // the channel must not keep a process alive that is otherwise done (after on('message'), which refs it)
  process.channel.unref();
}
