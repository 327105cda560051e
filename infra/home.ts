import { resolve, join } from 'node:path';

/** faultline's data root: $FAULTLINE_HOME, else ./.data under the current directory. */
export function faultlineHome(): string {
  return resolve(process.env.FAULTLINE_HOME ?? join(process.cwd(), '.data'));
}

/** The repository root (lib/infra/home.js → ../..), for finding shipped files at run time. */
export const REPO_ROOT = resolve(__dirname, '..', '..');

/** Per-campaign data dir: config, traffic, chaos log, metrics, dataset, model, results, report. */
export function campaignDir(home: string, campaignId: string): string {
  return join(home, 'campaigns', campaignId.replace(/[^A-Za-z0-9._-]/g, '_'));
}
