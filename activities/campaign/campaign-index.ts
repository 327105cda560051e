import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CampaignIndexEntry {
  campaignId: string;
  name: string;
  configHash: string;
  target: string;
  dataDir: string;
  status: 'running' | 'completed' | 'stopped' | 'failed';
  startedAtMs: number;
  endedAtMs?: number;
  reportPath?: string;
  resultsPath?: string;
  faultsInjected?: number;
  /** null where the test split left a metric undefined (see the campaign's results.json) */
  headline?: {
    rocAuc: number | null;
    bestF1: number | null;
    bestF1PointAdjusted: number | null;
    detector?: string;
    vusPr?: number | null;
  };
  error?: string;
}

/**
 * The campaign history kept in the data dir (<home>/campaigns/index.jsonl), so results outlive Temporal's
 * retention window. Append-only JSON lines; the last line for an id wins. Appends of one short line are
 * atomic on POSIX, so concurrent workers cannot interleave records.
 */
export class CampaignIndex {
  readonly path: string;
  constructor(home: string) {
    mkdirSync(join(home, 'campaigns'), { recursive: true });
    this.path = join(home, 'campaigns', 'index.jsonl');
  }

  upsert(entry: CampaignIndexEntry): void {
    appendFileSync(this.path, JSON.stringify(entry) + '\n');
  }

  private all(): Map<string, CampaignIndexEntry> {
    const out = new Map<string, CampaignIndexEntry>();
    if (!existsSync(this.path)) return out;
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as CampaignIndexEntry;
        out.set(e.campaignId, e);
      } catch {
        // A torn last line after a crash is skipped, not fatal.
      }
    }
    return out;
  }

  get(id: string): CampaignIndexEntry | undefined {
    return this.all().get(id);
  }

  /** Newest first. */
  list(): CampaignIndexEntry[] {
    return [...this.all().values()].sort((a, b) => b.startedAtMs - a.startedAtMs);
  }
}
