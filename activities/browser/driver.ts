import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Builder, type WebDriver } from 'selenium-webdriver';
import * as chrome from 'selenium-webdriver/chrome';
import type { BrowserConfig } from '../../schemas/browser';
import { ms } from '../../schemas/duration';
import { kbpsToBytesPerSec, resolveDevice } from './devices';
import { markedBrowserEnv, SESSION_DIR_PREFIX } from './orphans';

export interface BrowserSession {
  driver: WebDriver;
  /** what the profile applied, for the run records */
  profile: { name: string; device?: string; width: number; height: number; throttling?: ThrottlingApplied };
  /** quits the browser and kills anything of it that is left (idempotent) */
  close(): Promise<void>;
}

export interface ThrottlingApplied {
  latencyMs: number;
  downloadBytesPerSec: number;
  uploadBytesPerSec: number;
}

const isMobile = (p: BrowserConfig['profile']): boolean => p === 'mobile' || p === 'mobile-throttled';
const isThrottled = (p: BrowserConfig['profile']): boolean => p === 'throttled' || p === 'mobile-throttled';

/** Pids of processes whose command line mentions `marker` (our private profile dir). */
function pidsWith(marker: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes(marker)) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * Starts headless chromium through chromedriver with the profile's window, mobile emulation and
 * network throttling. Each session gets its own profile directory; `close()` quits the driver, stops
 * chromedriver, and then kills (by pid) any chromium process still using that directory, so a hung
 * or crashed browser never outlives the probe.
 */
export async function openBrowser(cfg: BrowserConfig): Promise<BrowserSession> {
  // One directory per session holds the profile and, as TMPDIR, the scoped temporary directories chromedriver and
  // chromium make (org.chromium.Chromium.scoped_dir.*), so removing it leaves nothing of the session in /tmp.
  const sessionDir = fs.mkdtempSync(path.join(os.tmpdir(), SESSION_DIR_PREFIX));
  const userDataDir = path.join(sessionDir, 'profile');
  const tmpDir = path.join(sessionDir, 'tmp');
  fs.mkdirSync(userDataDir);
  fs.mkdirSync(tmpDir);
  const options = new chrome.Options();
  options.setChromeBinaryPath(cfg.chromiumPath);
  options.addArguments(
    '--headless=new',
    '--no-sandbox',
    '--disable-dev-shm-usage',
    '--disable-gpu',
    '--no-first-run',
    '--disable-extensions',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--mute-audio',
    `--user-data-dir=${userDataDir}`,
  );
  let width: number;
  let height: number;
  let device: string | undefined;
  if (isMobile(cfg.profile)) {
    const m = resolveDevice(cfg.device, cfg.deviceMetrics);
    device = cfg.deviceMetrics ? 'custom' : cfg.device;
    width = m.width;
    height = m.height;
    // chromedriver's mobileEmulation: metrics + touch + mobile flag + user agent (the UA is what
    // makes sites serve their mobile variant; touch makes pointer events behave like a phone)
    options.setMobileEmulation({
      deviceMetrics: { width: m.width, height: m.height, pixelRatio: m.pixelRatio, touch: m.touch, mobile: m.mobile },
      userAgent: m.userAgent,
    } as never);
  } else {
    const [w, h] = cfg.windowSize.split('x').map(Number);
    width = w ?? 1366;
    height = h ?? 768;
    options.windowSize({ width, height });
  }
  // The owner marker lets the next worker reap this browser if this process dies without closing it (orphans.ts).
  const service = new chrome.ServiceBuilder(cfg.chromedriverPath).setEnvironment({
    ...markedBrowserEnv(),
    TMPDIR: tmpDir,
  });
  let driver: WebDriver | undefined;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    try {
      await driver?.quit();
    } catch {
      // the browser may already be gone; the pid sweep below still runs
    }
    for (const pid of pidsWith(userDataDir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already exited
      }
    }
    fs.rmSync(sessionDir, { recursive: true, force: true, maxRetries: 3 });
  };
  try {
    driver = await new Builder().forBrowser('chrome').setChromeOptions(options).setChromeService(service).build();
    const timeoutMs = ms(cfg.stepTimeout);
    await driver.manage().setTimeouts({ pageLoad: timeoutMs, script: timeoutMs });
    let throttling: ThrottlingApplied | undefined;
    if (isThrottled(cfg.profile)) {
      throttling = {
        latencyMs: ms(cfg.throttling.latency),
        downloadBytesPerSec: kbpsToBytesPerSec(cfg.throttling.downloadKbps),
        uploadBytesPerSec: kbpsToBytesPerSec(cfg.throttling.uploadKbps),
      };
      const d = driver as chrome.Driver;
      await d.sendDevToolsCommand('Network.enable', {});
      await d.sendDevToolsCommand('Network.emulateNetworkConditions', {
        offline: false,
        latency: throttling.latencyMs,
        downloadThroughput: throttling.downloadBytesPerSec,
        uploadThroughput: throttling.uploadBytesPerSec,
      });
    }
    return { driver, profile: { name: cfg.profile, device, width, height, throttling }, close };
  } catch (err) {
    await close();
    throw err;
  }
}
