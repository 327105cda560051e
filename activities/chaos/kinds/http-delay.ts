import { z } from 'zod';
import { parseDuration } from '../../../schemas/duration';
import { defineKind } from './kind';
import { httpChaosMatch, httpMatch, latency, percent } from './params';
import { proxyLocal } from './proxy';

const params = z.object({ delay: latency.default('500ms'), percent: percent.default(100), ...httpMatch }).strict();
/** http-delay: a share of the HTTP requests to the service wait `delay` before they are forwarded. */
export const httpDelay = defineKind({
  type: 'http-delay',
  params,
  doc: 'Delays `percent` % of HTTP requests to the service by `delay` (HTTPChaos delay); HTTP apps only.',
  report: { label: 'HTTP delay', color: '#84cc16' },
  services: 'http',
  local: proxyLocal<z.output<typeof params>>((f) => ({
    kind: 'http-delay',
    percent: f.params.percent,
    latencyMs: parseDuration(f.params.delay),
  })),
  chaosMesh: {
    kind: 'HTTPChaos',
    spec: (fault, ctx) => ({
      ...ctx.base,
      ...httpChaosMatch(fault.params, fault.app, ctx.portOf),
      delay: fault.params.delay,
      duration: ctx.duration,
    }),
    recovery: 'object-gone',
    applied: 'exists',
  },
});
