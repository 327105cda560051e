import { z } from 'zod';
import { defineKind } from './kind';
import { proxyLocal } from './proxy';

/**
 * A rate as Chaos Mesh accepts it: an integer and one of bps, kbps, mbps, gbps, tbps (bytes per second). Chaos
 * Mesh's webhook (api/v1alpha1 `Rate.Validate` → `ConvertUnitToBytes`) refuses anything else — the CRD's
 * description also names bit units (`mbit`), but the webhook rejects them and a decimal point — and its
 * `ToTbf` converts with powers of 1024: `1mbps` = 1 048 576 B/s, `1kbps` = 1024 B/s. The local target uses the
 * same conversion, so one spec shapes to the same bytes per second on both targets.
 */
const RATE = /^\s*([0-9]+)\s*(k|m|g|t)?bps\s*$/i;
const POWER: Record<string, number> = { '': 0, k: 1, m: 2, g: 3, t: 4 };

/** Bytes per second of a Chaos Mesh rate string ("1mbps" → 1048576), as Chaos Mesh's ConvertUnitToBytes. */
export function rateBytesPerSec(rate: string): number {
  const m = RATE.exec(rate);
  if (!m) throw new Error(`rate "${rate}": ${RATE_HINT}`);
  return Number(m[1]) * 1024 ** (POWER[(m[2] ?? '').toLowerCase()] ?? 0);
}
const RATE_HINT =
  'must be a Chaos Mesh rate: an integer with bps, kbps, mbps, gbps or tbps (bytes per second, 1 kbps = 1024 bps ' +
  'as Chaos Mesh converts it), e.g. "1mbps"; bit units ("8mbit") and decimals are refused by its webhook';

/** tbf's integer fields as the CRD has them (int32, minimum 1). */
const bytes = z
  .number()
  .int()
  .min(1)
  .max(2 ** 31 - 1);

/** Chaos Mesh's documented example (rate 1mbps, limit 20971520, buffer 10000) as the defaults; all three required there. */
const params = z
  .object({
    rate: z
      .string()
      .regex(RATE, RATE_HINT)
      // zod runs refinements after a failed regex too: only a well-formed rate is converted
      .refine((r) => !RATE.test(r) || rateBytesPerSec(r) > 0, 'must be above 0 bytes per second')
      .default('1mbps'),
    /** tbf `limit`: bytes queued waiting for tokens. */
    limit: bytes.default(20_971_520),
    /** tbf `buffer`: the bucket size, the most bytes that may leave at once. */
    buffer: bytes.default(10_000),
  })
  .strict();

/**
 * network-bandwidth: the selected pods' egress (pod → callers) is shaped by a token bucket to `rate`, like the tbf
 * Chaos Mesh puts on the pods' interface. Locally the proxy in front of the app shapes what each selected pod
 * sends (infra/local/proxy/bandwidth.ts); `peakrate`/`minburst` are not offered (the proxy does not model them).
 */
export const networkBandwidth = defineKind({
  type: 'network-bandwidth',
  params,
  doc: "Limits the selected pods' egress to `rate` (token bucket of `buffer` bytes, `limit` bytes queued; NetworkChaos bandwidth, direction to).",
  report: { label: 'network bandwidth', color: '#0ea5e9' },
  services: 'any',
  local: proxyLocal<z.output<typeof params>>((f) => ({
    kind: 'bandwidth',
    rateBytesPerSec: rateBytesPerSec(f.params.rate),
    bufferBytes: f.params.buffer,
    limitBytes: f.params.limit,
    // tbf sits on the selected pods only; the proxy's bucket is per pod
    ...(f.pods.length ? { pods: f.pods.map((p) => p.name) } : {}),
  })),
  chaosMesh: {
    kind: 'NetworkChaos',
    spec: ({ params: p }, ctx) => ({
      action: 'bandwidth',
      ...ctx.base,
      direction: 'to',
      bandwidth: { rate: p.rate.trim(), limit: p.limit, buffer: p.buffer },
      duration: ctx.duration,
    }),
    recovery: 'object-gone',
    applied: 'exists',
  },
});
