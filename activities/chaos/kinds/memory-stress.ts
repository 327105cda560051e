import { z } from 'zod';
import { defineKind } from './kind';
import { stressLocal } from './stress';

const params = z
  .object({
    workers: z.number().int().min(1).max(64).default(1),
    size: z
      .string()
      .regex(/^[0-9]+(B|KB|MB|GB|%)$/, 'must be a size such as "128MB", "1GB" or "10%"')
      .default('128MB'),
  })
  .strict();

/** Schema size (128MB / 1GB / 512KB / 100B / 10%) → stress-ng's 128M / 1G / 512K / 100 / 10%. */
export function toStressSize(size: string): string {
  return size.replace(/([KMG])B$/, '$1').replace(/(\d)B$/, '$1');
}

/** memory-stress: `workers` memory stressors holding `size` each inside the target pod. */
export const memoryStress = defineKind({
  type: 'memory-stress',
  params,
  doc: 'Runs `workers` memory stressors holding `size` charged to one selected pod (StressChaos memory).',
  report: { label: 'memory stress', color: '#14b8a6' },
  services: 'any',
  local: stressLocal<z.output<typeof params>>((f) => [
    '--vm',
    String(f.params.workers),
    '--vm-bytes',
    toStressSize(f.params.size),
    '--vm-keep',
  ]),
  chaosMesh: {
    kind: 'StressChaos',
    spec: ({ params: p }, ctx) => ({
      ...ctx.base,
      stressors: { memory: { workers: p.workers, size: p.size } },
      duration: ctx.duration,
    }),
    recovery: 'object-gone',
    applied: 'exists',
  },
});
