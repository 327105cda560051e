import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TASK_QUEUE, TRAINING_TASK_QUEUE } from '../workflows/messages';
import { stackDir } from './local/paths';
import { stackStatus } from './local/stack';
import type { SupervisorConfigInput } from './local/supervisor/config';
import { cmdlineOf, stateFilePath, type StateFile } from './local/supervisor/state';
import { devServerStatus } from './temporal/dev-server';
import { workerStatus } from './workers';

/**
 * Everything `faultline up` (and `npm run demo`) runs under one FAULTLINE_HOME, read from where each part records
 * itself: the dev server's temporal.pid/temporal.json, the workers' pid files, the stack's <part>.pid.json, and the
 * supervisor's config (the boutique's Service ports) and state file (every pod with its process).
 */
export interface PartStatus {
  name: string;
  state: 'ready' | 'running' | 'not ready' | 'stopped';
  pid?: number;
  /** where it answers (a worker answers nothing: the Temporal server and task queue it polls) */
  address?: string;
  detail?: string;
}

export interface PodStatus {
  name: string;
  pid?: number;
  running: boolean;
  ready: boolean;
}

export interface ServiceStatus {
  app: string;
  /** the Service (fault proxy) address, in the supervisor */
  address: string;
  pods: PodStatus[];
}

export interface StatusReport {
  home: string;
  parts: PartStatus[];
  /** the boutique's services, when a supervisor config exists */
  services: ServiceStatus[];
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export async function statusReport(home: string): Promise<StatusReport> {
  const parts: PartStatus[] = [];
  const temporal = devServerStatus(path.join(home, 'temporal'));
  parts.push(
    temporal
      ? {
          name: 'temporal dev server',
          state: 'running',
          pid: temporal.pid,
          address: temporal.address,
          ...(temporal.uiUrl ? { detail: `UI ${temporal.uiUrl}` } : {}),
        }
      : { name: 'temporal dev server', state: 'stopped' },
  );
  for (const kind of ['main', 'training'] as const) {
    const w = workerStatus(kind, home);
    const queue = kind === 'main' ? TASK_QUEUE : TRAINING_TASK_QUEUE;
    parts.push(
      w.running
        ? {
            name: `${kind} worker`,
            state: 'running',
            pid: w.pid,
            address: `queue ${queue}${w.address ? ` on ${w.address}` : ''}`,
            detail: `log ${w.logPath}`,
          }
        : { name: `${kind} worker`, state: 'stopped' },
    );
  }
  for (const p of await stackStatus({ home })) {
    const scheme = p.name === 'redis' ? '' : 'http://';
    parts.push({
      name: p.name,
      state: !p.running ? 'stopped' : p.ready ? 'ready' : 'not ready',
      ...(p.running ? { pid: p.pid } : {}),
      ...(p.port !== undefined ? { address: `${scheme}127.0.0.1:${p.port}` } : {}),
      detail: `log ${p.log}`,
    });
  }
  const supervisorRunning = parts.some((p) => p.name === 'supervisor' && p.state !== 'stopped');
  return { home, parts, services: supervisorRunning ? boutiqueServices(home) : [] };
}

/** The boutique's Services from the supervisor's config, with each pod's process from its state file. */
function boutiqueServices(home: string): ServiceStatus[] {
  const dir = stackDir(home);
  const config = readJson<SupervisorConfigInput>(path.join(dir, 'supervisor.json'));
  if (!config) return [];
  const state = readJson<StateFile>(stateFilePath(config.dataDir));
  const host = config.host ?? '127.0.0.1';
  return config.apps.map((a) => ({
    app: a.app,
    address: `${a.protocol === 'http' ? 'http://' : ''}${host}:${a.publicPort}`,
    pods: (state?.pods ?? [])
      .filter((p) => p.app === a.app)
      .map((p) => {
        // the state file carries the pod's info (ready, phase) beside its process
        const running = !!p.pid && !!p.cmdline && cmdlineOf(p.pid) === p.cmdline;
        return {
          name: p.name,
          ...(p.pid ? { pid: p.pid } : {}),
          running,
          ready: running && (p as { ready?: boolean }).ready === true,
        };
      }),
  }));
}

/** The report as `faultline ps` prints it. */
export function formatStatus(r: StatusReport): string {
  const lines = [`FAULTLINE_HOME ${r.home}`];
  const width = Math.max(...r.parts.map((p) => p.name.length), 8);
  for (const p of r.parts) {
    lines.push(
      [
        p.name.padEnd(width),
        p.state.padEnd(9),
        (p.pid ? `pid ${p.pid}` : '').padEnd(11),
        p.address ?? '',
        p.detail ? `  (${p.detail})` : '',
      ]
        .join(' ')
        .trimEnd(),
    );
  }
  if (r.services.length > 0) {
    lines.push('boutique services (Service address; pods):');
    const w = Math.max(...r.services.map((s) => s.app.length));
    for (const s of r.services) {
      const pods = s.pods
        .map(
          (p) =>
            `${p.name} ${p.pid ? `pid ${p.pid}` : 'no process'} ${p.ready ? 'ready' : p.running ? 'not ready' : 'down'}`,
        )
        .join(', ');
      lines.push(`  ${s.app.padEnd(w)} ${s.address.padEnd(24)} ${pods || 'no pods'}`);
    }
  }
  return lines.join('\n');
}
