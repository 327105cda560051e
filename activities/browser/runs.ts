import * as fs from 'node:fs';
import type { BrowserSession } from './driver';
import type { JourneyResult } from './journey';

/** One line of a probe's runs.jsonl: a journey and the browser profile it ran with. */
export interface ProbeRun extends JourneyResult {
  run: number;
  profile: BrowserSession['profile'] | { name: string };
}

/** The runs recorded so far (none when the file is missing); a line cut short by a crash is skipped. */
export function readRuns(file: string): ProbeRun[] {
  if (!fs.existsSync(file)) return [];
  const out: ProbeRun[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as ProbeRun);
    } catch {
      // a line cut short by a crash
    }
  }
  return out;
}
