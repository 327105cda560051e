import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { haltSignal, unhaltSignal } from '../../workflows/messages';
import { clearHalt, readHalt, writeHalt } from '../../activities/chaos/halt';
import { purgeFaults } from '../../activities/chaos/purge';
import { activeFaults, foldFaultLog, readFaultLog, readFaultLogEvents } from '../../activities/chaos/fault-log';
import { exportFaultLogArrow, exportFaultLogJsonl, grafanaAnnotations } from '../../activities/chaos/fault-log';
import { faultLogPath } from '../../activities/chaos/paths';
import { haltMarkerPath } from '../../activities/chaos/paths';
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { connectClient } from '../connect';
import { CliError, EXIT } from '../errors';

interface GlobalOpts {
  address?: string;
  namespace?: string;
}

/** Every running chaos loop, found by Temporal visibility. */
export const RUNNING_CHAOS_LOOPS = 'WorkflowType="chaosLoop" AND ExecutionStatus="Running"';

/** Signals every running chaosLoop; returns the workflow ids reached and the errors. */
export async function signalRunningChaosLoops(
  client: Client,
  kind: 'halt' | 'unhalt',
  reason: string,
): Promise<{ signalled: string[]; errors: string[] }> {
  const signalled: string[] = [];
  const errors: string[] = [];
  for await (const wf of client.workflow.list({ query: RUNNING_CHAOS_LOOPS })) {
    const handle = client.workflow.getHandle(wf.workflowId, wf.runId);
    try {
      if (kind === 'halt') await handle.signal(haltSignal, { reason });
      else await handle.signal(unhaltSignal);
      signalled.push(wf.workflowId);
    } catch (err) {
      errors.push(`${wf.workflowId}: ${(err as Error).message}`);
    }
  }
  return { signalled, errors };
}

/** Reaches Temporal if it can; the marker file alone already stops injection, so Temporal being down is a warning. */
async function tryClient(opts: GlobalOpts): Promise<{ client: Client; close: () => Promise<void> } | undefined> {
  try {
    return await connectClient(opts);
  } catch (err) {
    console.error(`warning: ${(err as Error).message.split('\n')[0]}; the halt marker still applies to every injector`);
    return undefined;
  }
}

export function registerChaosCommands(program: Command): void {
  const chaos = program.command('chaos').description('the global kill switch, leftover-fault purge and fault logs');

  chaos
    .command('halt')
    .description('stop injection in every running campaign and refuse new faults until `chaos resume-all`')
    .option('--reason <text>', 'why (recorded in every fault log)', 'operator halt')
    .action(async (o: { reason: string }) => {
      const marker = writeHalt(o.reason);
      console.log(`halt marker written: ${haltMarkerPath()} (${new Date(marker.atMs).toISOString()})`);
      const conn = await tryClient(program.opts<GlobalOpts>());
      if (!conn) return;
      try {
        const r = await signalRunningChaosLoops(conn.client, 'halt', o.reason);
        console.log(
          `halt signalled to ${r.signalled.length} running chaos loop(s)${r.signalled.length ? `: ${r.signalled.join(', ')}` : ''}`,
        );
        for (const e of r.errors) console.error(`  not signalled: ${e}`);
        if (r.errors.length) process.exitCode = EXIT.error;
      } finally {
        await conn.close();
      }
    });

  chaos
    .command('resume-all')
    .description('lift the global halt: remove the marker and let every halted chaos loop continue')
    .action(async () => {
      const had = clearHalt();
      console.log(had ? 'halt marker removed' : 'no halt marker was set');
      const conn = await tryClient(program.opts<GlobalOpts>());
      if (!conn) return;
      try {
        const r = await signalRunningChaosLoops(conn.client, 'unhalt', '');
        console.log(`resume signalled to ${r.signalled.length} running chaos loop(s)`);
        for (const e of r.errors) console.error(`  not signalled: ${e}`);
      } finally {
        await conn.close();
      }
    });

  chaos
    .command('purge')
    .description('remove every fault faultline left active (works with no worker or Temporal server running)')
    .option('--dry-run', 'only list what would be removed')
    .option('--supervisor <url>', 'local supervisor URL (default: the one recorded in each fault log)')
    .option('--kube-namespace <ns>', 'also delete Chaos Mesh objects of these campaigns in this namespace')
    .option('--kubeconfig <path>', 'kubeconfig for --kube-namespace')
    .option('--context <name>', 'kubeconfig context for --kube-namespace')
    .action(
      async (o: {
        dryRun?: boolean;
        supervisor?: string;
        kubeNamespace?: string;
        kubeconfig?: string;
        context?: string;
      }) => {
        const report = await purgeFaults({
          dryRun: o.dryRun,
          supervisorUrl: o.supervisor,
          ...(o.kubeNamespace
            ? { kubernetes: { namespace: o.kubeNamespace, kubeconfig: o.kubeconfig, context: o.context } }
            : {}),
        });
        const verb = o.dryRun ? 'would remove' : 'removed';
        console.log(`${report.logs.length} fault log(s) read; ${verb} ${report.removed.length} active fault(s)`);
        for (const r of report.removed) console.log(`  ${r.campaignId} ${r.id} ${r.type} ${r.app}: ${r.how}`);
        if (report.stressKilled) console.log(`${verb} ${report.stressKilled} stress-ng run(s) no log mentioned`);
        if (report.kubernetesObjects)
          console.log(`${verb} ${report.kubernetesObjects} Chaos Mesh object(s) by campaign label`);
        for (const n of report.finalizersRemoved) console.log(`  finalizers removed: ${n}`);
        for (const p of report.problems) console.error(`  could not remove: ${p}`);
        if (report.problems.length)
          throw new CliError(`${report.problems.length} fault(s) could not be removed (see above)`, EXIT.error);
      },
    );

  chaos
    .command('status')
    .description('the halt marker and the faults still active in the campaign at <campaignDir>')
    .argument('[campaignDir]', 'a campaign data dir')
    .action((dir: string | undefined) => {
      const halt = readHalt();
      console.log(halt ? `HALTED since ${new Date(halt.atMs).toISOString()}: ${halt.reason}` : 'not halted');
      if (!dir) return;
      const active = activeFaults(foldFaultLog(readFaultLogEvents(faultLogPath(dir))).values());
      console.log(`${active.length} active fault(s)`);
      for (const r of active)
        console.log(
          `  ${r.id} ${r.type} ${r.target.app} [${r.target.pods.join(', ')}] until ${new Date(r.plannedEndMs ?? r.plannedMs).toISOString()}`,
        );
    });

  chaos
    .command('log')
    .description("print a campaign's ground-truth fault records, or export them (JSONL, Arrow, Grafana annotations)")
    .argument('<campaignDir>', 'a campaign data dir')
    .option('--export', 'write faults.records.jsonl, faults.arrow and annotations.json beside the log')
    .action((dir: string, o: { export?: boolean }) => {
      const path = faultLogPath(dir);
      const records = readFaultLog(path);
      if (o.export) {
        const out = dirname(path);
        exportFaultLogJsonl(records, join(out, 'faults.records.jsonl'));
        exportFaultLogArrow(records, join(out, 'faults.arrow'));
        writeFileSync(join(out, 'annotations.json'), JSON.stringify(grafanaAnnotations(records), null, 2));
        console.log(`exported ${records.length} record(s) to ${out}`);
        return;
      }
      for (const r of records) console.log(JSON.stringify(r));
    });
}
