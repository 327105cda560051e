import { readFile } from 'node:fs/promises';
import type { FaultRecord } from '../../schemas/fault-log';
import { readFaultLog } from '../chaos/fault-log';

/**
 * Reads the chaos engine's JSONL ground truth into one FaultRecord per fault id. Lines may be whole
 * records or partial events of one fault (id + the fields that changed); later lines win, so the
 * append-only event log and a log of final records fold the same way. Blank lines are skipped; a
 * torn last line (a crash mid-write) is ignored, any other bad line is an error.
 */
export function parseFaultLog(text: string, source = 'fault log'): FaultRecord[] {
  const byId = new Map<string, FaultRecord>();
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line) continue;
    let obj: Partial<FaultRecord>;
    try {
      obj = JSON.parse(line) as Partial<FaultRecord>;
    } catch (err) {
      if (i === lines.length - 1) break;
      throw new Error(`${source} line ${i + 1} is not JSON: ${(err as Error).message}`, { cause: err });
    }
    if (typeof obj.id !== 'string') throw new Error(`${source} line ${i + 1} has no fault id`);
    const prev = byId.get(obj.id);
    byId.set(obj.id, { ...(prev ?? {}), ...obj } as FaultRecord);
  }
  return [...byId.values()];
}

/**
 * The chaos engine writes events (`{"ev": "applied", "id", "ts"}` …), folded by its own
 * `readFaultLog()`; exported or hand-built logs hold records. Both are accepted.
 */
export async function readFaultRecords(path: string): Promise<FaultRecord[]> {
  const text = await readFile(path, 'utf8');
  const first = text.slice(0, text.indexOf('\n') < 0 ? text.length : text.indexOf('\n')).trim();
  if (first.startsWith('{') && /"ev"\s*:/.test(first)) return readFaultLog(path);
  return parseFaultLog(text, path);
}
