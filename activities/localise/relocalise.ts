import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { localise, type LocaliseInput, type LocalisationResults } from './localise';
import {
  LOCALISATION_SECTION_ID,
  LOCALISATION_SECTION_TITLE,
  localisationSectionBody,
} from '../report/localisation-section';
import { esc } from '../report/svg';

export interface RelocaliseResult {
  path: string;
  results: LocalisationResults;
  /** the report files rewritten (absent when the campaign has no report yet) */
  report: string[];
}

/**
 * Re-runs the localisation step on a finished campaign with the current code: <campaign>/results/
 * localisation.json is rewritten, and the report's "Which service is at fault" section and the `localisation`
 * entry of report/results.json are replaced in place (the rest of the report stays as the campaign wrote it).
 */
export async function relocalise(
  campaignDir: string,
  opts: Omit<LocaliseInput, 'datasetDir' | 'resultsPath'> = {},
): Promise<RelocaliseResult> {
  const datasetDir = join(campaignDir, 'dataset');
  const resultsPath = join(campaignDir, 'results', 'results.json');
  if (!existsSync(join(datasetDir, 'episodes.json')))
    throw new Error(
      `${join(datasetDir, 'episodes.json')} is missing: the campaign has no dataset built from a fault log (run its dataset phase, or \`faultline dataset build\`)`,
    );
  if (!existsSync(resultsPath))
    throw new Error(`${resultsPath} is missing: localisation needs the evaluate phase's results (its chosen detector)`);
  const { path, results } = await localise({ ...opts, datasetDir, resultsPath });
  const report: string[] = [];
  const html = join(campaignDir, 'report', 'report.html');
  if (existsSync(html)) {
    const text = await readFile(html, 'utf8');
    const open = `<section id="${LOCALISATION_SECTION_ID}" class="sec">`;
    const from = text.indexOf(open);
    const to = from < 0 ? -1 : text.indexOf('</section>', from);
    if (from < 0 || to < 0)
      throw new Error(
        `${html} has no "${LOCALISATION_SECTION_TITLE}" section to replace (a report from before issue 17?)`,
      );
    const section = `${open}<h2>${esc(LOCALISATION_SECTION_TITLE)}</h2>${localisationSectionBody(results)}</section>`;
    await writeFile(html, text.slice(0, from) + section + text.slice(to + '</section>'.length));
    report.push(html);
  }
  const rj = join(campaignDir, 'report', 'results.json');
  if (existsSync(rj)) {
    const j = JSON.parse(await readFile(rj, 'utf8')) as Record<string, unknown>;
    j['localisation'] = results;
    const sections = j['sections'];
    if (sections && typeof sections === 'object') (sections as Record<string, string>)[LOCALISATION_SECTION_ID] = 'ok';
    const errors = j['errors'];
    if (errors && typeof errors === 'object') delete (errors as Record<string, string>)['localisation'];
    await writeFile(
      rj,
      JSON.stringify(j, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1),
    );
    report.push(rj);
  }
  return { path, results, report };
}
