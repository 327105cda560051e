import { z } from 'zod';
import { defineKind } from './kind';
import { httpChaosMatch, httpMatch, percent } from './params';
import { proxyLocal } from './proxy';

const params = z
  .object({ code: z.number().int().min(400).max(599).default(503), percent: percent.default(100), ...httpMatch })
  .strict();
/** http-abort: a share of the HTTP requests to the service are answered with an error status. */
export const httpAbort = defineKind({
  type: 'http-abort',
  params,
  doc: 'Answers `percent` % of HTTP requests to the service with status `code` (HTTPChaos abort); HTTP apps only.',
  report: { label: 'HTTP abort', color: '#6366f1' },
  services: 'http',
  local: proxyLocal<z.output<typeof params>>((f) => ({
    kind: 'http-abort',
    percent: f.params.percent,
    statusCode: f.params.code,
  })),
  chaosMesh: {
    kind: 'HTTPChaos',
    spec: (fault, ctx) => ({
      ...ctx.base,
      ...httpChaosMatch(fault.params, fault.app, ctx.portOf),
      abort: true,
      duration: ctx.duration,
    }),
    recovery: 'object-gone',
    applied: 'exists',
  },
});
