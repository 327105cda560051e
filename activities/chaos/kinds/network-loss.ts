import { z } from 'zod';
import { defineKind } from './kind';
import { percent } from './params';
import { proxyLocal } from './proxy';

const params = z.object({ loss: percent.default(30), correlation: percent.default(0) }).strict();
/** network-loss: a share of the traffic to the service is dropped. */
export const networkLoss = defineKind({
  type: 'network-loss',
  params,
  doc: 'Drops `loss` % of the traffic to the selected service (NetworkChaos loss, direction to).',
  report: { label: 'network loss', color: '#a855f7' },
  services: 'any',
  local: proxyLocal<z.output<typeof params>>((f) => ({ kind: 'loss', percent: f.params.loss })),
  chaosMesh: {
    kind: 'NetworkChaos',
    spec: ({ params: p }, ctx) => ({
      action: 'loss',
      ...ctx.base,
      direction: 'to',
      loss: { loss: String(p.loss), correlation: String(p.correlation) },
      duration: ctx.duration,
    }),
    recovery: 'object-gone',
    applied: 'exists',
  },
});
