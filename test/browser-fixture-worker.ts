import { runProbe } from '../activities/browser';
import { browserSchema } from '../schemas/browser';

/**
 * A worker process running the browser probe, for the crash drill in test/browser-orphans.test.ts: the test
 * SIGKILLs it while the probe's browser waits for a page, as the end-to-end drills kill the real worker.
 * argv: frontend URL, data dir.
 */
async function main(): Promise<void> {
  const [frontendUrl, dataDir] = process.argv.slice(2);
  if (!frontendUrl || !dataDir) throw new Error('usage: browser-fixture-worker.js <frontendUrl> <dataDir>');
  await runProbe({
    campaignId: 'drill',
    dataDir,
    phase: 'drill',
    frontendUrl,
    durationMs: 120_000,
    browser: browserSchema.parse({ stepTimeout: '90s', interval: '1s' }),
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
