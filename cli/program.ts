import { Command, CommanderError } from 'commander';
import { registerCampaignCommands } from './commands/campaign';
import { registerScheduleCommands } from './commands/schedule';
import { registerConfigCommands } from './commands/config';
import { registerUpCommands } from './commands/up';
import { registerDemoCommand } from './commands/demo';
import { registerChaosCommands } from './commands/chaos';
import { registerDatasetCommands } from './commands/dataset';
import { registerClusterCommands } from './commands/cluster';
import { TEMPORAL_ENV_HELP } from '../infra/temporal/connection-options';
import { CliError, EXIT } from './errors';

/** Declares every command; the commands themselves live in cli/commands/*.ts. */
export function buildProgram(): Command {
  const program = new Command('faultline')
    .description('chaos campaigns on microservice systems → labelled datasets → a trained USAD anomaly detector')
    .version('0.1.0')
    .option('--address <host:port>', 'Temporal frontend (default $TEMPORAL_ADDRESS or 127.0.0.1:7233)')
    .option('--namespace <ns>', 'Temporal namespace (default $TEMPORAL_NAMESPACE or default)')
    .addHelpText(
      'after',
      '\nConnection (workers read the same variables; the Temporal CLI uses these names too):\n' +
        Object.entries(TEMPORAL_ENV_HELP)
          .map(([name, what]) => `  ${name.padEnd(26)}${what}`)
          .join('\n'),
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerUpCommands(program);
  registerCampaignCommands(program);
  registerScheduleCommands(program);
  registerChaosCommands(program);
  registerDatasetCommands(program);
  registerClusterCommands(program);
  registerConfigCommands(program);
  registerDemoCommand(program);
  return program;
}

/** The one print-and-exit path: CLI errors print their message; anything else prints its stack. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof CliError) {
      console.error(`faultline: ${err.message}`);
      return err.code;
    }
    console.error(err);
    return EXIT.error;
  }
}
