import { z } from 'zod';
import { parseDuration } from '../../../schemas/duration';
import { defineKind } from './kind';
import { latency, percent } from './params';
import { proxyLocal } from './proxy';

const params = z
  .object({ latency: latency.default('200ms'), jitter: latency.default('0ms'), correlation: percent.default(0) })
  .strict();
/** network-delay: every byte to the service waits `latency` (± `jitter`). */
export const networkDelay = defineKind({
  type: 'network-delay',
  params,
  doc: 'Delays traffic to the selected service by `latency` ± `jitter` (NetworkChaos delay, direction to).',
  report: { label: 'network delay', color: '#eab308' },
  services: 'any',
  local: proxyLocal<z.output<typeof params>>((f) => ({
    kind: 'delay',
    latencyMs: parseDuration(f.params.latency),
    jitterMs: parseDuration(f.params.jitter),
  })),
  chaosMesh: {
    kind: 'NetworkChaos',
    spec: ({ params: p }, ctx) => ({
      action: 'delay',
      ...ctx.base,
      direction: 'to',
      delay: { latency: p.latency, jitter: p.jitter, correlation: String(p.correlation) },
      duration: ctx.duration,
    }),
    recovery: 'object-gone',
    applied: 'exists',
  },
});
