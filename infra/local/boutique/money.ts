import type { Money } from './types';

/**
 * Money arithmetic on demo.proto's {currency_code, units, nanos} (like upstream's
 * src/frontend/money and checkoutservice/money). Amounts are carried as BigInt nanos so sums and
 * conversions never pick up floating-point error.
 */
const NANOS = 1_000_000_000n;
const NANOS_MAX = 999_999_999;

export class MoneyError extends Error {
  override name = 'MoneyError';
}

export function isValid(m: Money): boolean {
  if (!Number.isInteger(m.units) || !Number.isInteger(m.nanos)) return false;
  if (m.nanos < -NANOS_MAX || m.nanos > NANOS_MAX) return false;
  if (m.units > 0 && m.nanos < 0) return false;
  if (m.units < 0 && m.nanos > 0) return false;
  return /^[A-Z]{3}$/.test(m.currency_code);
}

export function assertValid(m: Money | null | undefined, what: string): Money {
  if (!m) throw new MoneyError(`${what}: money is missing`);
  if (!isValid(m)) throw new MoneyError(`${what}: invalid money ${JSON.stringify(m)}`);
  return m;
}

export function toNanos(m: Money): bigint {
  return BigInt(m.units) * NANOS + BigInt(m.nanos);
}

/** BigInt division and remainder truncate toward zero, which keeps units and nanos the same sign. */
export function fromNanos(currencyCode: string, total: bigint): Money {
  return { currency_code: currencyCode, units: Number(total / NANOS), nanos: Number(total % NANOS) };
}

export function zero(currencyCode: string): Money {
  return { currency_code: currencyCode, units: 0, nanos: 0 };
}

export function sum(a: Money, b: Money): Money {
  if (a.currency_code !== b.currency_code) {
    throw new MoneyError(`cannot add ${a.currency_code} and ${b.currency_code}`);
  }
  return fromNanos(a.currency_code, toNanos(a) + toNanos(b));
}

export function multiply(m: Money, n: number): Money {
  if (!Number.isInteger(n)) throw new MoneyError(`cannot multiply money by non-integer ${n}`);
  return fromNanos(m.currency_code, toNanos(m) * BigInt(n));
}

/** A decimal string such as "1.1305" as an exact fraction numerator / 10^scale. */
export interface Decimal {
  numerator: bigint;
  denominator: bigint;
}

export function parseDecimal(text: string): Decimal {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) throw new MoneyError(`not a decimal number: ${JSON.stringify(text)}`);
  const frac = m[2] ?? '';
  return { numerator: BigInt((m[1] ?? '0') + frac), denominator: 10n ** BigInt(frac.length) };
}

/** Exact decimal amount of money, e.g. fromDecimal('USD', '8.99'). */
export function fromDecimal(currencyCode: string, text: string): Money {
  const d = parseDecimal(text);
  return fromNanos(currencyCode, (d.numerator * NANOS) / d.denominator);
}

const SYMBOLS: Record<string, string> = { USD: '$', CAD: '$', JPY: '¥', EUR: '€', TRY: '₺', GBP: '£' };

export function currencySymbol(code: string): string {
  return SYMBOLS[code] ?? `${code} `;
}

/** Upstream's renderMoney: symbol + units + "." + two-digit cents (nanos truncated). */
export function render(m: Money): string {
  const symbol = currencySymbol(m.currency_code);
  const cents = Math.trunc(Math.abs(m.nanos) / 10_000_000);
  const sign = m.units < 0 || m.nanos < 0 ? '-' : '';
  return `${sign}${symbol}${Math.abs(m.units)}.${String(cents).padStart(2, '0')}`;
}
