import { z } from 'zod';
import { duration } from './duration';

/** The tasks of Online Boutique's load generator (src/loadgenerator/locustfile.py), in its order. */
export const TRAFFIC_TASKS = ['index', 'setCurrency', 'browseProduct', 'addToCart', 'viewCart', 'checkout'] as const;
export type TrafficTask = (typeof TRAFFIC_TASKS)[number];

const weight = (w: number) => z.number().min(0).max(1000).default(w);

/** Relative task weights; the defaults are the upstream locustfile's (1, 2, 10, 2, 3, 1). */
export const taskWeightsSchema = z
  .object({
    index: weight(1),
    setCurrency: weight(2),
    browseProduct: weight(10),
    addToCart: weight(2),
    viewCart: weight(3),
    checkout: weight(1),
  })
  .strict()
  .refine((w) => Object.values(w).some((v) => v > 0), { message: 'at least one task weight must be above 0' });
export type TaskWeights = z.infer<typeof taskWeightsSchema>;

/** Load generator settings (owned by activities/traffic). */
export const trafficSchema = z
  .object({
    enabled: z.boolean().default(true),
    /**
     * closed: `users` virtual users, each running task → think time → task (JMeter thread group, Locust).
     * open: tasks arrive at `ratePerSec` whatever the response times; latency counts from the intended
     * send time, so a slow system shows its queueing delay instead of hiding it (no coordinated omission).
     */
    model: z.enum(['closed', 'open']).default('closed'),
    /** closed model: concurrent virtual users; open model: size of the pool of sessions (cookie jars) */
    users: z.number().int().min(1).max(2000).default(10),
    /** open model: target task arrivals per second */
    ratePerSec: z.number().positive().max(100000).default(60),
    /** open model: evenly spaced arrivals, or a Poisson process with the same mean rate */
    arrivals: z.enum(['uniform', 'poisson']).default('uniform'),
    /** open model: most requests in flight at once; arrivals beyond it wait (and their wait is counted) */
    maxInFlight: z.number().int().min(1).max(100000).default(1000),
    /** closed model: users start evenly spread over this time; open model: the rate ramps linearly */
    rampUp: duration().default('5s'),
    /** pause after each task, uniform in [thinkTime, thinkTimeMax] (upstream: between(1, 10) s) */
    thinkTime: duration().default('100ms'),
    thinkTimeMax: duration().optional(),
    requestTimeout: duration().default('10s'),
    /**
     * raw: kept-alive TCP connections with a small HTTP/1.1 parser (about autocannon's CPU per request);
     * node-http: node:http with keep-alive Agents (3–5× the CPU per request, for comparison)
     */
    client: z.enum(['raw', 'node-http']).default('raw'),
    /** boutique: the upstream task mix; single: GET `path` only (a smoke test or a benchmark) */
    scenario: z.enum(['boutique', 'single']).default('boutique'),
    path: z.string().startsWith('/').default('/'),
    weights: taskWeightsSchema.prefault({}),
    /** each virtual user starts with GET / (the locustfile's on_start) */
    onStartIndex: z.boolean().default(true),
    /** how often progress is heartbeated to Temporal */
    heartbeatInterval: duration().default('2s'),
    /** random seed for task choice and form data (omit for a random one) */
    seed: z.number().int().optional(),
    /** a user's own JMeter test plan for `runJmx` (needs `jmeter` on PATH or `jmeterPath`) */
    jmx: z.string().optional(),
    jmeterPath: z.string().default('jmeter'),
    /** extra -J properties for the .jmx run */
    jmeterProperties: z.record(z.string(), z.string()).default({}),
  })
  .strict();
export type TrafficConfig = z.infer<typeof trafficSchema>;
export type TrafficConfigInput = z.input<typeof trafficSchema>;
