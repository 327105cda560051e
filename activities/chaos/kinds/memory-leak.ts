import { z } from 'zod';
import { formatDuration } from '../../../schemas/duration';
import { defineKind } from './kind';

const UNIT: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

const params = z
  .object({
    // the final size, in Chaos Mesh's memory-stressor syntax; no "%": a leak grows to an absolute size
    size: z
      .string()
      .regex(/^[0-9]+(B|KB|MB|GB)$/, 'must be a size such as "256MB" or "1GB" (units B, KB, MB, GB; no %)')
      .refine((s) => sizeBytes(s) >= 1024 * 1024, 'must be at least 1MB')
      .default('256MB'),
    // Kubernetes: the growth as this many StressChaos steps of growing size (a staircase; locally it is linear)
    steps: z.number().int().min(1).max(30).default(4),
  })
  .strict();

/**
 * "256MB" → bytes, 1024-based (MB = MiB) as stress-ng reads it; the Workflow's steps are written in KiB, which
 * Chaos Mesh reads as 1024 bytes unambiguously, so both targets hold the same bytes.
 */
export function sizeBytes(size: string): number {
  const m = /^([0-9]+)(B|KB|MB|GB)$/.exec(size);
  if (!m) throw new Error(`not a size: "${size}"`);
  return Number(m[1]) * (UNIT[m[2] ?? 'B'] ?? 1);
}

/**
 * memory-leak: the target service's own memory grows over the fault's duration to `size`, then is freed.
 *
 * Locally the pod's own process allocates linearly (the supervisor's memory-leak verb; it frees itself at the
 * fault's end even if no worker is left to remove it). On Kubernetes Chaos Mesh's memory stressor has no growth
 * field, so the fault is one Chaos Mesh Workflow: a Serial template of `steps` StressChaos memory steps on the
 * same pods, step i holding i/steps of `size` for duration/steps. Chaos Mesh runs the sequence itself, so there
 * is one object to create, find and delete; deleting it removes its WorkflowNodes and their StressChaos children
 * through their ownerReferences (the garbage collector).
 */
export const memoryLeak = defineKind({
  type: 'memory-leak',
  params,
  defaultDuration: '60s',
  doc:
    "Grows the selected pod's own memory to `size` over the duration, then frees it (locally the process " +
    'allocates linearly; Chaos Mesh: a Workflow of `steps` StressChaos of growing size).',
  report: { label: 'memory leak', color: '#92400e' },
  services: 'any',
  local: {
    oneShot: false,
    // nothing but supervisor requests: the trigger thread fires it at the planned instant
    timed: true,
    hostProcess: false,
    async apply(ctx, fault) {
      const leak = {
        sizeBytes: sizeBytes(fault.params.size),
        durationMs: Math.max(0, fault.endMs - fault.plannedMs),
        // the process frees it by itself at the fault's end: a worker that died cannot leave it
        untilMs: fault.endMs,
      };
      for (const pod of fault.pods) await ctx.supervisor.startMemoryLeak(pod.name, fault.key, leak);
    },
    async recover(ctx, fault) {
      // idempotent: 200 whether or not the leak was still active (a restarted pod took it with it)
      for (const pod of fault.pods) await ctx.supervisor.stopMemoryLeak(pod.name, fault.key);
    },
    async recovered(ctx, fault) {
      const active = await ctx.supervisor.listMemoryLeaks();
      return !active.some((l) => l.faultId === fault.key);
    },
    async isApplied(ctx, fault) {
      const active = await ctx.supervisor.listMemoryLeaks();
      return active.some((l) => l.faultId === fault.key);
    },
  },
  chaosMesh: {
    kind: 'Workflow',
    spec: ({ params: p, plannedMs, endMs }, ctx) => {
      const bytes = sizeBytes(p.size);
      const totalMs = Math.max(1000, endMs - plannedMs);
      const stepMs = Math.max(1, Math.floor(totalMs / p.steps));
      const steps = Array.from({ length: p.steps }, (_, i) => ({
        name: `leak-${i + 1}`,
        templateType: 'StressChaos',
        deadline: formatDuration(stepMs),
        stressChaos: {
          ...ctx.base,
          stressors: { memory: { workers: 1, size: `${Math.ceil((bytes * (i + 1)) / p.steps / 1024)}KiB` } },
        },
      }));
      return {
        entry: 'leak',
        templates: [
          { name: 'leak', templateType: 'Serial', deadline: ctx.duration, children: steps.map((s) => s.name) },
          ...steps,
        ],
      };
    },
    recovery: 'object-gone',
    applied: 'exists',
  },
});
