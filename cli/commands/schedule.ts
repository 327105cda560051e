import type { Command } from 'commander';
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { TASK_QUEUE } from '../../workflows/messages';
import type { CampaignConfig } from '../../schemas/campaign';
import { loadCampaignConfig } from '../config-file';
import { connectClient } from '../connect';
import { CliError, EXIT } from '../errors';

export interface CreateScheduleOptions {
  scheduleId: string;
  cron: string;
  config: CampaignConfig;
  /** How far back missed runs are still started after downtime. */
  catchupWindow?: string;
  timezone?: string;
}

/**
 * A nightly (or any cron) campaign as a Temporal Schedule: overlapping runs are skipped (a campaign that
 * overruns never stacks with the next), missed runs within the catch-up window still start, and a failed
 * run pauses the schedule so a broken config does not fail every night unnoticed.
 */
export async function createCampaignSchedule(client: Client, o: CreateScheduleOptions) {
  return client.schedule.create({
    scheduleId: o.scheduleId,
    spec: { cronExpressions: [o.cron], timezone: o.timezone },
    action: {
      type: 'startWorkflow',
      workflowType: 'campaign',
      args: [o.config],
      taskQueue: TASK_QUEUE,
      workflowId: `campaign-${o.config.name}-scheduled`,
    },
    policies: {
      overlap: ScheduleOverlapPolicy.SKIP,
      catchupWindow: o.catchupWindow ?? '1h',
      pauseOnFailure: true,
    },
    memo: { createdBy: 'faultline schedule create' },
  });
}

export function registerScheduleCommands(program: Command): void {
  const globals = () => program.opts<{ address?: string; namespace?: string }>();
  const schedule = program.command('schedule').description('recurring campaigns (Temporal Schedules)');
  const withClient = async (fn: (c: Client) => Promise<void>) => {
    const { client, close } = await connectClient(globals());
    try {
      await fn(client);
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) throw new CliError(`no such schedule: ${err.message}`, EXIT.usage);
      throw err;
    } finally {
      await close();
    }
  };

  schedule
    .command('create')
    .description('create a schedule that starts the campaign on a cron spec (overlap SKIP, pause on failure)')
    .requiredOption('--cron <spec>', 'cron expression, e.g. "0 2 * * *" for 02:00 every night')
    .requiredOption('-f, --file <config.yaml>', 'campaign config')
    .option('--id <scheduleId>', 'schedule id (default: faultline-<name>)')
    .option('--catchup-window <duration>', 'start runs missed during downtime up to this far back', '1h')
    .option('--timezone <tz>', 'IANA time zone for the cron spec (default UTC)')
    .action(async (opts: { cron: string; file: string; id?: string; catchupWindow: string; timezone?: string }) => {
      const config = loadCampaignConfig(opts.file);
      if (opts.cron.trim().split(/\s+/).length < 5 && !opts.cron.startsWith('@')) {
        throw new CliError(
          `--cron "${opts.cron}" needs 5 fields (minute hour day month weekday), e.g. "0 2 * * *"`,
          EXIT.usage,
        );
      }
      await withClient(async (client) => {
        const handle = await createCampaignSchedule(client, {
          scheduleId: opts.id ?? `faultline-${config.name}`,
          cron: opts.cron,
          config,
          catchupWindow: opts.catchupWindow,
          timezone: opts.timezone,
        });
        const d = await handle.describe();
        console.log(`${handle.scheduleId}: next run ${d.info.nextActionTimes[0]?.toISOString() ?? 'n/a'}`);
      });
    });

  schedule
    .command('list')
    .description('schedules with their next run')
    .action(async () => {
      await withClient(async (client) => {
        let n = 0;
        for await (const s of client.schedule.list()) {
          n++;
          console.log(
            `${s.scheduleId.padEnd(32)} ${s.state.paused ? 'paused ' : 'active '} next ${s.info.nextActionTimes[0]?.toISOString() ?? 'n/a'}`,
          );
        }
        if (n === 0) console.log('no schedules');
      });
    });

  for (const [name, desc] of [
    ['pause', 'pause a schedule'],
    ['unpause', 'unpause a schedule'],
    ['trigger', 'start one run now'],
    ['delete', 'delete a schedule (running campaigns continue)'],
  ] as const) {
    schedule
      .command(`${name} <scheduleId>`)
      .description(desc)
      .action(async (id: string) => {
        await withClient(async (client) => {
          const h = client.schedule.getHandle(id);
          if (name === 'pause') await h.pause('paused from the faultline CLI');
          else if (name === 'unpause') await h.unpause('unpaused from the faultline CLI');
          else if (name === 'trigger') await h.trigger(ScheduleOverlapPolicy.ALLOW_ALL);
          else await h.delete();
          console.log(`${name}: ${id}`);
        });
      });
  }
}
