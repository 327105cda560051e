import type { DeviceMetrics } from '../../schemas/browser';

/**
 * Phones for mobile emulation, with the metrics and user agents of Chrome DevTools' device list.
 * Kept here (not chromedriver's `deviceName`) because Chrome renames and drops devices between
 * releases; this way a config keeps working on any chromium.
 */
export const DEVICES: Record<string, Required<DeviceMetrics>> = {
  'Pixel 7': {
    width: 412,
    height: 915,
    pixelRatio: 2.625,
    touch: true,
    mobile: true,
    userAgent:
      'Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36',
  },
  'Pixel 5': {
    width: 393,
    height: 851,
    pixelRatio: 2.75,
    touch: true,
    mobile: true,
    userAgent:
      'Mozilla/5.0 (Linux; Android 11; Pixel 5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/90.0.4430.91 Mobile Safari/537.36',
  },
  'iPhone 12': {
    width: 390,
    height: 844,
    pixelRatio: 3,
    touch: true,
    mobile: true,
    userAgent:
      'Mozilla/5.0 (iPhone; CPU iPhone OS 14_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0 Mobile/15E148 Safari/604.1',
  },
  'iPhone SE': {
    width: 375,
    height: 667,
    pixelRatio: 2,
    touch: true,
    mobile: true,
    userAgent:
      'Mozilla/5.0 (iPhone; CPU iPhone OS 13_2_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0.3 Mobile/15E148 Safari/604.1',
  },
  'iPhone X': {
    width: 375,
    height: 812,
    pixelRatio: 3,
    touch: true,
    mobile: true,
    userAgent:
      'Mozilla/5.0 (iPhone; CPU iPhone OS 11_0 like Mac OS X) AppleWebKit/604.1.38 (KHTML, like Gecko) Version/11.0 Mobile/15A372 Safari/604.1',
  },
  'Galaxy S20 Ultra': {
    width: 412,
    height: 915,
    pixelRatio: 3.5,
    touch: true,
    mobile: true,
    userAgent:
      'Mozilla/5.0 (Linux; Android 10; SM-G988B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.106 Mobile Safari/537.36',
  },
};

/** Metrics for a named phone (case-insensitive) or the explicit ones; throws naming the known phones. */
export function resolveDevice(name: string, explicit?: DeviceMetrics): Required<DeviceMetrics> {
  if (explicit) {
    return { ...explicit, userAgent: explicit.userAgent ?? (DEVICES['Pixel 7'] as Required<DeviceMetrics>).userAgent };
  }
  const key = Object.keys(DEVICES).find((k) => k.toLowerCase() === name.trim().toLowerCase());
  if (!key)
    throw new Error(`unknown device "${name}": use one of ${Object.keys(DEVICES).join(', ')} or give deviceMetrics`);
  return DEVICES[key] as Required<DeviceMetrics>;
}

/** CDP Network.emulateNetworkConditions throughputs are bytes per second; configs speak kilobits per second. */
export const kbpsToBytesPerSec = (kbps: number): number => Math.round((kbps * 1000) / 8);
