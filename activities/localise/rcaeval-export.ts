import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readArrowTable } from '../metrics/arrow-table';
import { lowerBound } from '../dataset/label';
import type { EpisodesFile } from '../dataset/episodes';
import { seriesOwner } from './series';

/**
 * The campaign's fault episodes as RCAEval metric cases (RCAEval 1.8.1's documented layout):
 *   <root>/<system>/<service>_<fault>/<repetition>/data.csv   `time` (unix s, one row per second), <service>_<metric>…
 *   <root>/<system>/<service>_<fault>/<repetition>/inject_time.txt   one integer, unix s
 * RCAEval reads the ground truth from the folder name split on its one underscore and a series'
 * service from its column name split on the first underscore, so neither the fault token nor the
 * service name carries an underscore: services keep their app label (dashes), faults lose theirs
 * (cpu-stress → cpustress). Node-level series are left out (they would be scored as wrong candidates).
 */

/** Our per-service metric → RCAEval's metric token (cpu, mem, latency, error, workload as RCAEval names them). */
export const RCAEVAL_METRIC: Record<string, string> = {
  cpu: 'cpu',
  mem: 'mem',
  net_rx: 'netrx',
  net_tx: 'nettx',
  request_rate: 'workload',
  error_rate: 'error',
  latency_p95: 'latency',
  // the service as its callers see it (a delay on its network shows here, not in its own latency)
  client_p95: 'clientlatency',
  client_errors: 'clienterror',
  restarts: 'restarts',
  pods_created: 'podscreated',
  ready_replicas: 'readyreplicas',
};

/** pod-kill → podkill: RCAEval splits the case folder on its one underscore. */
export function faultToken(type: string): string {
  return type.replace(/[^a-zA-Z0-9]/g, '').toLowerCase();
}

export interface RcaevalCase {
  dir: string;
  service: string;
  fault: string;
  repetition: number;
  injectTime: number;
  rows: number;
  episodeId: string;
  type: string;
}

export interface RcaevalExportOptions {
  datasetDir: string;
  outRoot: string;
  /** the system folder (RCAEval: online-boutique, sock-shop, train-ticket) */
  system: string;
  /** seconds of data before the injection (bounded by the previous episode's end); default 600 */
  beforeS?: number;
  /** seconds after the episode's end (bounded by the next injection); default 60 */
  afterS?: number;
}

/** Writes one case per fault episode with a target service; returns the cases written. */
export async function exportRcaeval(opts: RcaevalExportOptions): Promise<RcaevalCase[]> {
  const epPath = join(opts.datasetDir, 'episodes.json');
  if (!existsSync(epPath))
    throw new Error(
      `${epPath} is missing: an RCAEval export needs a dataset built from a fault log (faultline dataset build)`,
    );
  if (opts.system.includes('/') || opts.system === '')
    throw new Error(`--system "${opts.system}" must be one folder name`);
  const eps = (JSON.parse(await readFile(epPath, 'utf8')) as EpisodesFile).episodes;
  const points = await readArrowTable(join(opts.datasetDir, 'points.arrow'));
  const ts = points.columns.get('timestamp');
  if (!ts || ts.length === 0) throw new Error(`${join(opts.datasetDir, 'points.arrow')}: no timestamp rows`);
  // Columns: <app>_<token>; the app label is the column's service with underscores back to dashes
  // (Kubernetes app names are DNS labels: dashes, never underscores).
  const cols: Array<{ name: string; values: Float64Array; scale: number }> = [];
  for (const n of points.names) {
    const o = seriesOwner(n);
    const token = o ? RCAEVAL_METRIC[o.metric] : undefined;
    if (!o || !token) continue;
    // RCAEval converts *_mem from bytes to MB; ours are MiB.
    cols.push({
      name: `${o.service.replace(/_/g, '-')}_${token}`,
      values: points.columns.get(n)!,
      scale: token === 'mem' ? 1048576 : 1,
    });
  }
  if (cols.length === 0)
    throw new Error(`${opts.datasetDir}: no per-service (svc_<service>_<metric>) series to export`);
  const beforeMs = (opts.beforeS ?? 600) * 1000;
  const afterMs = (opts.afterS ?? 60) * 1000;
  const reps = new Map<string, number>();
  const out: RcaevalCase[] = [];
  for (const [i, ep] of eps.entries()) {
    const service = ep.services[0];
    if (!service) continue;
    const fault = faultToken(ep.type);
    const key = `${service}_${fault}`;
    const rep = (reps.get(key) ?? 0) + 1;
    reps.set(key, rep);
    const prevEnd = eps[i - 1]?.endMs ?? Number.NEGATIVE_INFINITY;
    const next = eps[i + 1]?.appliedMs ?? Number.POSITIVE_INFINITY;
    const fromS = Math.ceil(Math.max(ep.appliedMs - beforeMs, prevEnd, ts[0]!) / 1000);
    const endMs = ep.endMs ?? ts[ts.length - 1]!;
    const toS = Math.floor(Math.min(endMs + afterMs, next - 1, ts[ts.length - 1]!) / 1000);
    const injectTime = Math.floor(ep.appliedMs / 1000);
    // One row per second, each holding the latest sample at or before it (the step may exceed 1 s).
    const lines = [['time', ...cols.map((c) => c.name)].join(',')];
    for (let s = fromS; s <= toS; s++) {
      const j = lowerBound(ts, s * 1000 + 1) - 1;
      if (j < 0) continue;
      lines.push([String(s), ...cols.map((c) => fmt(c.values[j]! * c.scale))].join(','));
    }
    const dir = join(opts.outRoot, opts.system, key, String(rep));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'data.csv'), lines.join('\n') + '\n');
    await writeFile(join(dir, 'inject_time.txt'), `${injectTime}\n`);
    out.push({
      dir,
      service,
      fault,
      repetition: rep,
      injectTime,
      rows: lines.length - 1,
      episodeId: ep.id,
      type: ep.type,
    });
  }
  return out;
}

function fmt(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 1e6) / 1e6) : '';
}
