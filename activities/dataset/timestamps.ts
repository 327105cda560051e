/**
 * Timestamps of imported files → UTC epoch milliseconds. Accepted: ISO 8601 date-times
 * (`2025-06-06 18:15:02`, `2025-06-06T18:15:02.5+02:00`, `…Z`) and numbers (epoch seconds, or epoch
 * milliseconds from 1e11 up). A date-time without a zone is "naive": it is read as wall-clock time in
 * the import's timezone (an IANA name; UTC when none is given), and the dataset card says which.
 */
export interface ParsedTime {
  ms: number;
  kind: 'naive' | 'zoned' | 'epoch-s' | 'epoch-ms';
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?$/;
const NUMBER = /^[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** Throws RangeError naming the zone when it is not an IANA timezone this Node knows. */
export function checkTimezone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new RangeError(`unknown timezone "${tz}": use an IANA name such as UTC, Europe/Berlin or Asia/Taipei`);
  }
}

/** Converts wall-clock times in one timezone to UTC; offsets are cached per local hour. */
export class ZonedClock {
  private readonly fmt: Intl.DateTimeFormat | undefined;
  private readonly cache = new Map<number, number>();

  constructor(readonly timezone: string) {
    checkTimezone(timezone);
    this.fmt =
      timezone === 'UTC'
        ? undefined
        : new Intl.DateTimeFormat('en-US', {
            timeZone: timezone,
            hourCycle: 'h23',
            year: 'numeric',
            month: 'numeric',
            day: 'numeric',
            hour: 'numeric',
            minute: 'numeric',
            second: 'numeric',
          });
  }

  /** The zone's offset (local − UTC, ms) at an instant. */
  private offsetAt(instant: number): number {
    const parts = this.fmt!.formatToParts(new Date(instant));
    const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
    const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
    return local - Math.floor(instant / 1000) * 1000;
  }

  /**
   * UTC ms of a wall-clock time given as if it were UTC (`Date.UTC(fields)`); undefined when that
   * local time does not exist (skipped by a daylight-saving change). An ambiguous time (repeated by
   * the change back) resolves to its first occurrence.
   */
  toUtc(localAsUtc: number): number | undefined {
    if (!this.fmt) return localAsUtc;
    const hour = Math.floor(localAsUtc / 3_600_000);
    let t = this.cache.get(hour);
    if (t === undefined) {
      const base = hour * 3_600_000;
      // earliest consistent offset: try the offset an hour either side of the guess
      const candidates = [this.offsetAt(base - 3_600_000 * 3), this.offsetAt(base + 3_600_000 * 3)].sort(
        (a, b) => b - a,
      );
      let found: number | undefined;
      for (const off of candidates) {
        if (this.offsetAt(base - off) === off) {
          found = off;
          break;
        }
      }
      t = found ?? NaN;
      this.cache.set(hour, t);
    }
    if (Number.isNaN(t)) return undefined;
    const utc = localAsUtc - t;
    // a transition inside this hour (half-hour zones): check the exact instant
    return this.offsetAt(utc) === t ? utc : this.exact(localAsUtc);
  }

  private exact(localAsUtc: number): number | undefined {
    for (const off of [this.offsetAt(localAsUtc - 43_200_000), this.offsetAt(localAsUtc + 43_200_000)].sort(
      (a, b) => b - a,
    )) {
      if (this.offsetAt(localAsUtc - off) === off) return localAsUtc - off;
    }
    return undefined;
  }
}

/** Parses one timestamp cell; returns an error text (without the file/row context) on failure. */
export function parseTimestamp(text: string, clock: ZonedClock): ParsedTime | string {
  const s = text.trim();
  if (s === '') return 'empty timestamp';
  if (NUMBER.test(s)) {
    const v = Number(s);
    if (!Number.isFinite(v)) return `"${s}" is not a finite number`;
    return Math.abs(v) >= 1e11 ? { ms: v, kind: 'epoch-ms' } : { ms: v * 1000, kind: 'epoch-s' };
  }
  const m = ISO.exec(s);
  if (!m) return `"${s}" is not a date-time (expected e.g. 2025-06-06 18:15:02, 2025-06-06T18:15:02Z or epoch seconds)`;
  const [, y, mo, d, h = '0', mi = '0', se = '0', frac = '', zone] = m;
  const fracMs = frac ? Number(`0.${frac}`) * 1000 : 0;
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se)) + fracMs;
  const check = new Date(local - fracMs);
  if (
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    check.getUTCHours() !== Number(h) ||
    check.getUTCMinutes() !== Number(mi)
  ) {
    return `"${s}" is not a valid date-time`;
  }
  if (zone !== undefined) {
    if (zone === 'Z' || zone === 'z' || zone === 'UTC') return { ms: local, kind: 'zoned' };
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const off = (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0')) * 60_000;
    return { ms: local - sign * off, kind: 'zoned' };
  }
  const utc = clock.toUtc(local);
  if (utc === undefined) return `"${s}" does not exist in ${clock.timezone} (skipped by a daylight-saving change)`;
  return { ms: utc, kind: 'naive' };
}
