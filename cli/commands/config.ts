import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { campaignSchema } from '../../schemas/campaign';
import { loadCampaignConfig } from '../config-file';

/** JSON Schema of the campaign config, for editors (yaml-language-server) and the Temporal UI's input. */
export function campaignJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'faultline campaign config',
    ...(z.toJSONSchema(campaignSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>),
  };
}

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('validate configs and export their JSON Schema');
  config
    .command('validate <file>')
    .description('validate a campaign config; prints the config with defaults filled in')
    .option('--quiet', 'print nothing when valid')
    .action((file: string, opts: { quiet?: boolean }) => {
      const cfg = loadCampaignConfig(file);
      if (!opts.quiet) console.log(JSON.stringify(cfg, null, 2));
    });
  config
    .command('schema')
    .description('print (or write) the JSON Schema of the campaign config')
    .option('-o, --out <file>', 'write to a file')
    .action((opts: { out?: string }) => {
      const text = JSON.stringify(campaignJsonSchema(), null, 2) + '\n';
      if (opts.out) writeFileSync(opts.out, text);
      else process.stdout.write(text);
    });
}
