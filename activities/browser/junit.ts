import * as fs from 'node:fs';
import { JOURNEY_STEPS } from './journey';
import type { JourneyResult } from './journey';

// XML 1.0 cannot carry most control characters, even escaped; browser error texts sometimes hold them
const esc = (s: string): string =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

/**
 * JUnit XML of the probe's runs: one <testsuite> per run, one <testcase> per step; a failed step carries
 * the assertion and the screenshot path (also as a Jenkins [[ATTACHMENT|…]] line), the steps after it
 * are <skipped/>.
 */
export function junitXml(suite: string, runs: JourneyResult[]): string {
  const failures = runs.filter((r) => !r.ok).length;
  const totalS = runs.reduce((a, r) => a + (r.endMs - r.startMs), 0) / 1000;
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${esc(suite)}" tests="${runs.length * JOURNEY_STEPS.length}" failures="${failures}" time="${totalS.toFixed(3)}">`,
  ];
  runs.forEach((r, i) => {
    const name = `${suite}.run-${String(i + 1).padStart(4, '0')}`;
    out.push(
      `  <testsuite name="${esc(name)}" tests="${JOURNEY_STEPS.length}" failures="${r.ok ? 0 : 1}" skipped="${JOURNEY_STEPS.length - r.steps.length}" timestamp="${new Date(r.startMs).toISOString()}" time="${((r.endMs - r.startMs) / 1000).toFixed(3)}">`,
    );
    for (const step of JOURNEY_STEPS) {
      const s = r.steps.find((x) => x.name === step);
      const head = `    <testcase classname="${esc(name)}" name="${step}" time="${((s?.ms ?? 0) / 1000).toFixed(3)}"`;
      if (!s) out.push(`${head}><skipped message="not reached: step ${r.failedStep ?? '?'} failed"/></testcase>`);
      else if (s.ok) out.push(`${head}/>`);
      else {
        out.push(`${head}>`);
        out.push(
          `      <failure message="${esc(r.assertion ?? 'failed')}" type="AssertionFailed">${esc(r.error ?? '')}${s.screenshot ? `\nscreenshot: ${esc(s.screenshot)}` : ''}</failure>`,
        );
        if (s.screenshot) out.push(`      <system-out>[[ATTACHMENT|${esc(s.screenshot)}]]</system-out>`);
        out.push('    </testcase>');
      }
    }
    out.push('  </testsuite>');
  });
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}

export function writeJunit(file: string, suite: string, runs: JourneyResult[]): void {
  fs.writeFileSync(file + '.tmp', junitXml(suite, runs));
  fs.renameSync(file + '.tmp', file);
}
