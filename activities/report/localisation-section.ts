import type { LocalisationResults, RankerName } from '../localise/localise';
import type { LocalisationScore } from '../localise/metrics';
import { esc } from './svg';

const pct = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(100 * v).toFixed(0)}%`;
const ci = (c: [number, number] | undefined): string =>
  c && Number.isFinite(c[0]) ? `<span class="muted">[${pct(c[0])}, ${pct(c[1])}]</span>` : '';

function table(head: string[], rows: string[][], cls = ''): string {
  return `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/** The report's `<section>` id and title (faultline dataset localise replaces the section in place). */
export const LOCALISATION_SECTION_ID = 'localisation';
export const LOCALISATION_SECTION_TITLE = 'Which service is at fault';

/** Episodes listed one by one in the report; every episode is in localisation.json. */
const MAX_EPISODES = 60;

/**
 * "Which service is at fault": AC@1, AC@3, Avg@5 per ranker and fault kind (95 % bootstrap
 * intervals), over all injected episodes (undetected = miss) and over detected ones, from the
 * detected onset; the injection-time view beside it; each episode's top 3 beside the truth with
 * the series that drove the default localiser's ranking; localisation time per episode.
 */
export function localisationSectionBody(r: LocalisationResults): string {
  const def = r.default.name;
  const rankers = Object.keys(r.scores.detected.all) as RankerName[];
  const kinds = [
    ...new Set(
      Object.values(r.scores.injection.all).flatMap((byKind) =>
        Object.keys(byKind ?? {}).filter((k) => k !== 'overall'),
      ),
    ),
  ].sort();
  const cell = (s: LocalisationScore | undefined) =>
    s
      ? `${pct(s.ac1)} ${ci(s.ci.ac1)}</td><td>${pct(s.ac3)} ${ci(s.ci.ac3)}</td><td>${pct(s.avg5)} ${ci(s.ci.avg5)}`
      : '—</td><td>—</td><td>—';
  const scoreTable = (view: 'detected' | 'injection', pop: 'all' | 'detected') => {
    const rows: string[][] = [];
    for (const name of rankers) {
      const byKind = r.scores[view][pop][name];
      if (!byKind) continue;
      for (const kind of ['overall', ...kinds]) {
        const s = byKind[kind];
        if (!s) continue;
        rows.push([
          kind === 'overall' ? `<b>${esc(name)}</b>${name === def ? ' (default)' : ''}` : '',
          kind === 'overall' ? '<b>overall</b>' : esc(kind),
          String(s.cases),
          cell(s),
        ]);
      }
    }
    return table(['ranker', 'fault kind', 'episodes', 'AC@1', 'AC@3', 'Avg@5'], rows, 'num small');
  };
  const detected = r.episodes.filter((e) => e.detected).length;
  const epRows = r.episodes.slice(0, MAX_EPISODES).map((e) => {
    const d = e.views.detected.rankers[def];
    const inj = e.views.injection.rankers[def];
    const top = (o: typeof d) =>
      o
        ? o.top.map((s) => (e.truth.includes(s) ? `<b>${esc(s)}</b>` : esc(s))).join(', ') +
          ` <span class="muted">(truth #${o.truthRank ?? '—'})</span>`
        : '<span class="muted">not detected</span>';
    return [
      esc(e.type),
      esc(e.truth.join(', ')),
      top(d),
      top(inj),
      esc((d ?? inj)?.drivers.filter((x) => x !== null).join(', ') ?? ''),
      `${e.timeMs.toFixed(0)} ms`,
    ];
  });
  return `<p class="note">Default localiser: <b>${esc(def)}</b> — ${esc(r.default.why)}. The detector (${esc(r.detector.name)}): ${esc(r.detector.why)}.
  ${r.episodes.length} test-split fault episodes (${detected} detected by the default detector's alarm; ${r.skipped} in validation, not scored) over ${r.candidates.length} candidate services; BARO's normal period: up to ${(r.normalMs / 1000).toFixed(0)} s before the onset, after the previous episode. Intervals: 95 % bootstrap over episodes.
  ${Object.entries(r.absent)
    .map(([k, v]) => `${esc(k)} absent: ${esc(v)}.`)
    .join(' ')}</p>
  <h3>From the detected onset, over all injected episodes (undetected = miss)</h3>${scoreTable('detected', 'all')}
  <h3>From the detected onset, detected episodes only</h3>${scoreTable('detected', 'detected')}
  <h3>From the injection time (every episode)</h3>${scoreTable('injection', 'all')}
  <h3>Episodes: ${esc(def)}'s top 3 beside the truth</h3>
  <div class="scroll">${table(['kind', 'truth', 'top 3 (detected onset)', 'top 3 (injection)', 'series that drove it', 'time'], epRows, 'small')}</div>
  <p class="note">Localisation time per episode (every ranker, both views): mean ${r.timing.meanMs.toFixed(0)} ms, max ${r.timing.maxMs.toFixed(0)} ms, total ${(r.timing.totalMs / 1000).toFixed(1)} s. Per ranker and view (mean / max): ${Object.entries(
    r.timing.byRanker ?? {},
  )
    .map(([k, t]) => `${esc(k)} ${t.meanMs.toFixed(1)} / ${t.maxMs.toFixed(1)} ms`)
    .join(
      ', ',
    )}.${r.episodes.length > MAX_EPISODES ? ` First ${MAX_EPISODES} episodes shown; all are in localisation.json.` : ''}</p>`;
}
