import type { Command } from 'commander';
import { join } from 'node:path';
import { REPO_ROOT } from '../../infra/home';
import { loadCampaignConfig } from '../config-file';
import { connectClient } from '../connect';
import { up } from './up';
import { exitCodeFor, followCampaign, printResult, startCampaign } from './campaign';

/**
 * `npm run demo`: everything a first-time user needs in one command — the Temporal dev server, the
 * workers, the local boutique with Prometheus and node-exporter — then one short campaign end to end,
 * followed with a progress bar, ending with the report path and the headline metrics.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('start everything locally and run the demo campaign end to end')
    .option('-f, --file <config.yaml>', 'campaign config', join(REPO_ROOT, 'examples', 'demo.yaml'))
    .action(async (opts: { file: string }) => {
      const config = loadCampaignConfig(opts.file);
      console.error('starting the local stack (Temporal, workers, boutique, Prometheus, node-exporter)…');
      const stack = await up({});
      console.error(`Temporal UI: ${stack.temporal.uiUrl ?? 'disabled'}`);
      const { client, close } = await connectClient({ address: stack.temporal.address });
      try {
        const handle = await startCampaign(client, config);
        console.error(
          `campaign ${handle.workflowId} started (watch it in the UI, or: faultline campaign status ${handle.workflowId})`,
        );
        const result = await followCampaign(handle);
        printResult(result);
        process.exitCode = exitCodeFor(result);
      } finally {
        await close();
      }
      console.error('the stack keeps running for the UI and Grafana; `npm run faultline -- down` stops it');
    });
}
