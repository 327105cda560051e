import { z } from 'zod';
import { duration } from './duration';

/**
 * Explicit mobile metrics, as chromedriver's `mobileEmulation.deviceMetrics` plus the user agent.
 * Used instead of a named device when given.
 */
export const deviceMetricsSchema = z
  .object({
    width: z.number().int().min(200).max(4000),
    height: z.number().int().min(200).max(4000),
    pixelRatio: z.number().positive().max(5).default(3),
    touch: z.boolean().default(true),
    mobile: z.boolean().default(true),
    userAgent: z.string().optional(),
  })
  .strict();
export type DeviceMetrics = z.infer<typeof deviceMetricsSchema>;

/**
 * Network throttling applied with CDP Network.emulateNetworkConditions.
 * Throughputs here are in kilobits per second (1 kbps = 1000 bit/s); CDP wants bytes per second, so
 * 50 kbps becomes 6250 B/s. (The reference Selenium script passed 50000 to CDP, which is 400 kbps,
 * while its comment said 50 kbps.) The defaults are the reference experiment's 3000 ms and 50 kbps.
 */
export const throttlingSchema = z
  .object({
    latency: duration().default('3000ms'),
    downloadKbps: z.number().positive().max(10_000_000).default(50),
    uploadKbps: z.number().positive().max(10_000_000).default(50),
  })
  .strict();
export type Throttling = z.infer<typeof throttlingSchema>;

/** Browser probe settings (owned by activities/browser). */
export const browserSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** desktop; mobile (device emulation); throttled (desktop + slow network); mobile-throttled (both) */
    profile: z.enum(['desktop', 'mobile', 'mobile-throttled', 'throttled']).default('desktop'),
    /** a phone known to activities/browser/devices.ts, e.g. "Pixel 7", "iPhone 12" */
    device: z.string().default('Pixel 7'),
    /** explicit metrics instead of a named device */
    deviceMetrics: deviceMetricsSchema.optional(),
    throttling: throttlingSchema.prefault({}),
    /** desktop window size */
    windowSize: z
      .string()
      .regex(/^\d{3,4}x\d{3,4}$/, 'must be WIDTHxHEIGHT, e.g. "1366x768"')
      .default('1366x768'),
    /** time between journey starts */
    interval: duration().default('10s'),
    /** longest wait for one step's page and assertion */
    stepTimeout: duration().default('15s'),
    /** all: every step of every run; first-run: every step of the first run; failure: only failed steps */
    screenshots: z.enum(['all', 'first-run', 'failure']).default('first-run'),
    /** quantity put in the cart (the product page offers 1, 2, 3, 4, 5 and 10) */
    quantity: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.literal(5), z.literal(10)]).default(1),
    chromiumPath: z.string().default('/usr/bin/chromium'),
    chromedriverPath: z.string().default('/usr/bin/chromedriver'),
  })
  .strict();
export type BrowserConfig = z.infer<typeof browserSchema>;
export type BrowserConfigInput = z.input<typeof browserSchema>;
