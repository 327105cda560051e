import { z } from 'zod';

/** Units accepted in duration strings, in milliseconds. */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Parses "500ms", "90s", "2h", "1.5m" (or compounds such as "1h30m") into milliseconds; throws on bad input. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const parts = trimmed.match(/\d+(?:\.\d+)?(?:ms|s|m|h|d)/g);
  if (!parts || parts.join('') !== trimmed) {
    throw new Error(
      `"${text}" is not a duration: use a number with a unit (ms, s, m, h, d), e.g. "90s", "2h", "1h30m"`,
    );
  }
  let total = 0;
  for (const part of parts) {
    const m = DURATION_RE.exec(part);
    if (!m) throw new Error(`"${text}" is not a duration`);
    total += Number(m[1]) * (UNIT_MS[m[2] as string] ?? 0);
  }
  return Math.round(total);
}

/** Formats milliseconds the way configs write them ("1h30m", "90s", "250ms"). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const out: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out.push(`${n}${unit}`);
    rest -= n * size;
  }
  if (rest > 0) out.push(`${rest}ms`);
  return out.join('');
}

/** A zod field for a duration string; the parsed config keeps the string, `ms()` converts it. */
export const duration = (what = 'a duration') =>
  z.string().refine(
    (s) => {
      try {
        parseDuration(s);
        return true;
      } catch {
        return false;
      }
    },
    { message: `must be ${what} such as "90s", "5m" or "2h" (units: ms, s, m, h, d)` },
  );

export const ms = parseDuration;
