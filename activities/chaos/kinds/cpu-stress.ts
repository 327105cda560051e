import { z } from 'zod';
import { defineKind } from './kind';
import { percent } from './params';
import { stressLocal } from './stress';

const params = z.object({ workers: z.number().int().min(1).max(64).default(1), load: percent.default(80) }).strict();
/** cpu-stress: `workers` CPU stressors at `load` % inside the target pod. */
export const cpuStress = defineKind({
  type: 'cpu-stress',
  params,
  doc: 'Runs `workers` CPU stressors at `load` % charged to one selected pod (StressChaos cpu).',
  report: { label: 'CPU stress', color: '#ec4899' },
  services: 'any',
  local: stressLocal<z.output<typeof params>>((f) => [
    '--cpu',
    String(f.params.workers),
    '--cpu-load',
    String(f.params.load),
  ]),
  chaosMesh: {
    kind: 'StressChaos',
    spec: ({ params: p }, ctx) => ({
      ...ctx.base,
      stressors: { cpu: { workers: p.workers, load: p.load } },
      duration: ctx.duration,
    }),
    recovery: 'object-gone',
    applied: 'exists',
  },
});
