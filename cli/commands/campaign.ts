import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { CampaignResult } from '../../workflows/campaign';
import {
  TASK_QUEUE,
  pauseSignal,
  progressQuery,
  resumeSignal,
  stopSignal,
  type CampaignProgress,
  liveFraction,
} from '../../workflows/messages';
import type { CampaignConfig } from '../../schemas/campaign';
import { CampaignIndex } from '../../activities/campaign/campaign-index';
import { faultlineHome } from '../../infra/home';
import { loadCampaignConfig } from '../config-file';
import { connectClient } from '../connect';
import { CliError, EXIT } from '../errors';
import { headlineLines, metric } from '../headline';

interface GlobalOpts {
  address?: string;
  namespace?: string;
}

/** A readable, sortable id: campaign-<name>-<UTC yyyymmddThhmmss>. */
export function newCampaignId(name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase();
  return `campaign-${name}-${stamp}`;
}

export async function startCampaign(client: Client, config: CampaignConfig, id?: string): Promise<WorkflowHandle> {
  const workflowId = id ?? newCampaignId(config.name);
  return client.workflow.start('campaign', {
    taskQueue: TASK_QUEUE,
    workflowId,
    args: [config],
  });
}

/** Follows a campaign with a live progress bar until it closes; returns the result or throws. */
export async function followCampaign(handle: WorkflowHandle, opts: { quiet?: boolean } = {}): Promise<CampaignResult> {
  const tty = process.stderr.isTTY && !opts.quiet;
  const bar = new SingleBar(
    {
      format: ' {phase} |{bar}| {percentage}% | faults {faults} | requests {requests} | epochs {epochs} | {status}',
      barsize: 30,
      hideCursor: true,
      stream: process.stderr,
    },
    undefined,
  );
  let started = false;
  let lastLine = '';
  const resultP = handle.result() as Promise<CampaignResult>;
  let done = false;
  void resultP.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    try {
      const p = await handle.query(progressQuery);
      const pct = Math.round(liveFraction(p, Date.now()) * 100);
      const payload = {
        phase: p.phase.padEnd(8),
        faults: p.faultsInjected,
        requests: p.requestsSent,
        epochs: p.epochs,
        status: p.message ?? p.status,
      };
      if (!opts.quiet) {
        if (tty) {
          if (!started) {
            bar.start(100, pct, payload);
            started = true;
          } else bar.update(pct, payload);
        } else {
          // Logs (CI, files) get one line per change of phase or status instead of a redrawn bar.
          const line = `${p.phase} ${p.status}${p.message ? ` (${p.message})` : ''}`;
          if (line !== lastLine) console.error(`[${new Date().toISOString()}] ${pct}% ${line}`);
          lastLine = line;
        }
      }
    } catch {
      // A query can fail while the worker restarts; the next poll retries.
    }
    await Promise.race([resultP.catch(() => undefined), new Promise((r) => setTimeout(r, 1000))]);
  }
  if (started) {
    bar.update(100);
    bar.stop();
  }
  return resultP;
}

export function printResult(r: CampaignResult): void {
  console.log(`campaign ${r.campaignId}: ${r.status}`);
  console.log(`  data:    ${r.dataDir}`);
  if (r.reportPath) console.log(`  report:  ${r.reportPath}`);
  console.log(`  faults injected: ${r.faultsInjected}`);
  if (r.headline) for (const line of headlineLines(r.headline)) console.log(line);
}

function formatProgress(p: CampaignProgress): string {
  const lines = [
    `${p.campaignId} (${p.name}): ${p.status}, phase ${p.phase}, ${Math.round(liveFraction(p, Date.now()) * 100)}%`,
    `  faults injected ${p.faultsInjected}, requests sent ${p.requestsSent}, epochs ${p.epochs}`,
  ];
  if (p.message) lines.push(`  ${p.message}`);
  for (const ph of p.phases) {
    if (ph.state === 'skipped') continue;
    const took = ph.startMs && ph.endMs ? ` (${((ph.endMs - ph.startMs) / 1000).toFixed(1)} s)` : '';
    lines.push(
      `  ${ph.state === 'done' ? '✔' : ph.state === 'running' ? '▶' : ph.state === 'failed' ? '✖' : '·'} ${ph.name}${took}`,
    );
  }
  return lines.join('\n');
}

async function withClient<T>(g: GlobalOpts, fn: (client: Client) => Promise<T>): Promise<T> {
  const { client, close } = await connectClient(g);
  try {
    return await fn(client);
  } finally {
    await close();
  }
}

async function existing(client: Client, id: string): Promise<WorkflowHandle> {
  const handle = client.workflow.getHandle(id);
  try {
    await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new CliError(`no campaign with id ${id} (see faultline campaign list)`, EXIT.usage);
    throw err;
  }
  return handle;
}

export function exitCodeFor(r: CampaignResult): number {
  return r.status === 'completed' ? EXIT.ok : r.status === 'stopped' ? EXIT.stopped : EXIT.failed;
}

export function registerCampaignCommands(program: Command): void {
  const globals = () => program.opts<GlobalOpts>();
  const campaign = program.command('campaign').description('start, follow and control campaigns');

  campaign
    .command('start')
    .description('validate a campaign config and start it')
    .requiredOption('-f, --file <config.yaml>', 'campaign config (YAML or JSON)')
    .option('--id <workflowId>', 'workflow id (default: campaign-<name>-<timestamp>)')
    .option('--wait', 'follow progress until the campaign ends; exit code reflects the outcome')
    .action(async (opts: { file: string; id?: string; wait?: boolean }) => {
      const config = loadCampaignConfig(opts.file);
      await withClient(globals(), async (client) => {
        const handle = await startCampaign(client, config, opts.id);
        console.log(handle.workflowId);
        if (!opts.wait) return;
        const result = await followCampaign(handle).catch((err: Error) => {
          throw new CliError(
            `campaign ${handle.workflowId} failed: ${err.cause instanceof Error ? err.cause.message : err.message}`,
            EXIT.failed,
          );
        });
        printResult(result);
        process.exitCode = exitCodeFor(result);
      });
    });

  campaign
    .command('status <id>')
    .description('phase and progress of a campaign')
    .option('--wait', 'follow with a live progress bar until it ends')
    .option('--json', 'print the progress object as JSON')
    .action(async (id: string, opts: { wait?: boolean; json?: boolean }) => {
      await withClient(globals(), async (client) => {
        const handle = await existing(client, id);
        if (opts.wait) {
          const result = await followCampaign(handle);
          printResult(result);
          process.exitCode = exitCodeFor(result);
          return;
        }
        const p = await handle.query(progressQuery);
        console.log(opts.json ? JSON.stringify(p, null, 2) : formatProgress(p));
      });
    });

  for (const [name, desc] of [
    ['pause', 'pause a campaign: fault injection pauses at once, the pipeline at the next phase boundary'],
    ['resume', 'resume a paused campaign'],
    ['stop', 'stop gracefully: remove every fault, then label, train and report what was collected'],
  ] as const) {
    campaign
      .command(`${name} <id>`)
      .description(desc)
      .option('--reason <text>', 'recorded in the campaign')
      .action(async (id: string, opts: { reason?: string }) => {
        await withClient(globals(), async (client) => {
          const handle = await existing(client, id);
          if (name === 'pause') await handle.signal(pauseSignal, { reason: opts.reason });
          else if (name === 'resume') await handle.signal(resumeSignal);
          else await handle.signal(stopSignal, { reason: opts.reason });
          console.log(`${name} sent to ${id}`);
        });
      });
  }

  campaign
    .command('list')
    .description('campaigns known to Temporal (running and recent); --all reads the data-dir index instead')
    .option('--all', 'every campaign ever run from this data dir, beyond Temporal retention')
    .option('--json', 'JSON output')
    .action(async (opts: { all?: boolean; json?: boolean }) => {
      if (opts.all) {
        const entries = new CampaignIndex(faultlineHome()).list();
        if (opts.json) return console.log(JSON.stringify(entries, null, 2));
        if (entries.length === 0) return console.log('no campaigns recorded in ' + faultlineHome());
        for (const e of entries) {
          const h = e.headline
            ? `  ${e.headline.detector ?? 'usad'} AUC ${metric(e.headline.rocAuc)} best F1 ${metric(e.headline.bestF1)}`
            : '';
          console.log(
            `${new Date(e.startedAtMs).toISOString()}  ${e.status.padEnd(9)} ${e.campaignId}${h}${e.reportPath ? `  ${e.reportPath}` : ''}`,
          );
        }
        return;
      }
      await withClient(globals(), async (client) => {
        const rows: Record<string, unknown>[] = [];
        for await (const wf of client.workflow.list({ query: `WorkflowType = 'campaign' ORDER BY StartTime DESC` })) {
          const phase = String(wf.searchAttributes?.CampaignPhase?.[0] ?? '');
          rows.push({ id: wf.workflowId, status: wf.status.name, phase, start: wf.startTime.toISOString() });
          if (rows.length >= 50) break;
        }
        if (opts.json) return console.log(JSON.stringify(rows, null, 2));
        for (const r of rows)
          console.log(
            `${String(r.start)}  ${String(r.status).padEnd(10)} ${String(r.phase).padEnd(9)} ${String(r.id)}`,
          );
        if (rows.length === 0) console.log('no campaigns');
      });
    });
}
