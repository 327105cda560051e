/**
 * Numbers → ASCII written straight into a byte buffer, for the CSV writer (no strings, no UTF-8
 * encoding step, no garbage).
 *
 * `writeNumber` writes exactly the bytes of `String(x)`: the shortest decimal that reads back to the
 * same double (ECMAScript Number::toString, as V8 and Python's repr compute it), so the CSV keeps
 * every value exactly and is byte-identical to the string formatter it replaces.
 * `writeFloat32Rounded` writes exactly `String(+x.toPrecision(8))`, the text used for float32 values.
 *
 * How (no big integers): with x = m·2^q and 10^k exact for k ≤ 22 (5^22 < 2^53), the product
 * x·10^k is computed exactly as hi + lo (Dekker's two-product). 15 significant digits are tried
 * first: n = round(x·10^k) < 2^53, and n / 10^k is then correctly rounded (Clinger's fast path),
 * so `n / 10^k === x` is an exact round-trip test; a round-tripping decimal of ≤ 15 digits is unique
 * (the 15-digit grid is ~10× coarser than an ulp), hence the shortest. Otherwise 16 digits, with
 * an exact test: the nearest 16-digit integer N reads back to x iff |N − x·10^k| is below half an
 * ulp of x times 10^k (or equal to it and x's significand is even: reading rounds half to even).
 * Otherwise 17 digits, which always read back (half an ulp is ≥ 0.55 units of the 17th digit).
 * Among equally short candidates the nearest is taken, ties to even, as V8 does.
 * Values outside [1e-6, 1e15) (exponent notation, rare in metrics) fall back to `String(x)`.
 */

const P10 = new Float64Array(23);
const P10_HI = new Float64Array(23);
const P10_LO = new Float64Array(23);
const SPLITTER = 134217729; // 2^27 + 1
for (let k = 0; k <= 22; k++) {
  const p = Number(`1e${k}`); // parsing is correctly rounded, and 10^k is exact up to 10^22
  P10[k] = p;
  const t = SPLITTER * p;
  P10_HI[k] = t - (t - p);
  P10_LO[k] = p - (P10_HI[k] as number);
}
const TWO53 = 9007199254740992;

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer); // little-endian: words[0] low, words[1] high

/** twoProduct's result, [hi, lo] (a typed array: module-level doubles would be boxed on every store). */
const PROD = new Float64Array(2);

/** x·10^k exactly as PROD[0] + PROD[1] (Dekker; exact for the magnitudes used here). */
function twoProduct(x: number, k: number): void {
  const p = x * (P10[k] as number);
  const t = SPLITTER * x;
  const xh = t - (t - x);
  const xl = x - xh;
  const bh = P10_HI[k] as number;
  const bl = P10_LO[k] as number;
  PROD[0] = p;
  PROD[1] = xh * bh - p + xh * bl + xl * bh + xl * bl;
}

/**
 * Decimal exponent estimate by binary exponent: for 2^E ≤ x < 2^(E+1), floor(log10 x) is
 * E10[E] or E10[E] + 1, the latter iff x ≥ UP[E] (10^(E10[E] + 1), rounded; near a negative
 * power of ten the estimate may be one off, which the exact steps below correct).
 */
const E10 = new Int16Array(2048);
const UP = new Float64Array(2048);
/** 1 where the estimate is exact: UP is 10^(E10 + 1) exactly (E10 + 1 in 0..22). */
const EXACT = new Uint8Array(2048);
for (let biased = 1; biased < 2047; biased++) {
  const e2 = biased - 1023;
  const e10 = Math.floor(e2 * Math.LOG10E * Math.LN2);
  E10[biased] = e10;
  UP[biased] = Number(`1e${e10 + 1}`);
  EXACT[biased] = e10 >= -1 && e10 <= 21 ? 1 : 0;
}

/** "00".."99" as ASCII pairs. */
const PAIRS = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  PAIRS[2 * i] = 48 + Math.floor(i / 10);
  PAIRS[2 * i + 1] = 48 + (i % 10);
}

/** An integer N = QR[0]·10^8 + QR[1] (QR[1] < 10^8, QR[0] < 2^31), set by split(). */
const QR = new Int32Array(2);

/** QR ← the integer h + adj (h an integer-valued double, adj a small integer; the sum < 10^17). */
function split(h: number, adj: number): void {
  let q = Math.floor(h * 1e-8); // may be one off; the remainder corrects it
  let r = h - q * 1e8 + adj; // q·1e8 and the difference are exact
  while (r < 0) {
    r += 1e8;
    q--;
  }
  while (r >= 1e8) {
    r -= 1e8;
    q++;
  }
  QR[0] = q;
  QR[1] = r;
}

/** The number of decimal digits of QR's integer (≥ 1). */
function digitsOfQR(): number {
  const q = QR[0] as number;
  return q > 0 ? 8 + digits32(q) : digits32(QR[1] as number);
}

/** The number of decimal digits of 1 ≤ v < 2^31. */
function digits32(v: number): number {
  if (v < 1e4) return v < 100 ? (v < 10 ? 1 : 2) : v < 1000 ? 3 : 4;
  if (v < 1e8) return v < 1e6 ? (v < 1e5 ? 5 : 6) : v < 1e7 ? 7 : 8;
  return v < 1e9 ? 9 : 10;
}

/**
 * Writes the p digits of QR's integer right to left into buf[start, start + p), two digits a step
 * (int32 division and remainder by 100 compile to multiplications).
 */
function putDigits(buf: Uint8Array, start: number, p: number): void {
  let end = start + p;
  let t = QR[1] as number;
  if (p > 8) {
    for (let i = 0; i < 4; i++) {
      const d = t % 100;
      t = (t / 100) | 0;
      buf[--end] = PAIRS[2 * d + 1] as number;
      buf[--end] = PAIRS[2 * d] as number;
    }
    t = QR[0] as number;
  }
  while (end - start >= 2) {
    const d = t % 100;
    t = (t / 100) | 0;
    buf[--end] = PAIRS[2 * d + 1] as number;
    buf[--end] = PAIRS[2 * d] as number;
  }
  if (end > start) buf[start] = 48 + t;
}

function writeAscii(buf: Uint8Array, pos: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
  return pos;
}

/** Writes a non-negative integer < 2^53 (no sign, no leading zeros). */
function writeUint(buf: Uint8Array, pos: number, v: number): number {
  split(v, 0);
  const p = digitsOfQR();
  putDigits(buf, pos, p);
  return pos + p;
}

/**
 * Writes QR's integer N (p digits) times 10^−k, k ≥ 0, in ECMAScript Number::toString layout for a
 * value in [1e-6, 1e21): trailing zeros of the fraction dropped, "0.000ddd" below 1.
 */
function writeScaled(buf: Uint8Array, pos: number, p: number, k: number): number {
  const point = p - k; // value = 0.d1…dp × 10^point, point ≤ p
  if (point <= 0) {
    buf[pos++] = 48;
    buf[pos++] = 46;
    for (let i = point; i < 0; i++) buf[pos++] = 48;
    putDigits(buf, pos, p);
    let end = pos + p;
    while (buf[end - 1] === 48) end--; // N ≥ 1 has a non-zero digit
    return end;
  }
  // Digits one byte to the right, then the integer part moved left over it and the point after it.
  putDigits(buf, pos + 1, p);
  const dot = pos + point;
  let end = pos + 1 + p;
  while (end > dot + 1 && buf[end - 1] === 48) end--;
  for (let i = pos; i < dot; i++) buf[i] = buf[i + 1] as number;
  if (end === dot + 1) return dot; // an integer
  buf[dot] = 46;
  return end;
}

/** The most bytes one number takes ("-1.7976931348623157e+308"). */
export const MAX_NUMBER_BYTES = 24;

/** Writes `String(x)` as ASCII at `pos`; returns the position after it. */
export function writeNumber(buf: Uint8Array, pos: number, x: number): number {
  if (x < 0) {
    buf[pos++] = 45;
    x = -x;
  }
  if (x >= 1e-6 && x < 1e15) {
    if (x === Math.floor(x)) return writeUint(buf, pos, x);
    // ≤ 15 significant digits (exponent estimate may be off by one; the test is exact anyway).
    bits[0] = x;
    const biased = (words[1] as number) >>> 20;
    let e = (E10[biased] as number) + (x >= (UP[biased] as number) ? 1 : 0);
    let k = 14 - e;
    if (k >= 0 && k <= 22) {
      const p10 = P10[k] as number;
      const y = x * p10; // within 1/16 of x·10^k
      const n = Math.round(y);
      const f = y - n; // exact; a round trip needs |x·10^k − n| ≤ 0.111, so |f| < 0.2
      if (f < 0.2 && f > -0.2 && n < 1e15 && n / p10 === x) {
        split(n, 0);
        return writeScaled(buf, pos, digitsOfQR(), k);
      }
    }
    if (EXACT[biased] === 1) return writeDigits1617(buf, pos, x, e, false);
    // Exact decimal exponent: 10^16 ≤ x·10^(16−e) < 10^17.
    for (let tries = 0; tries < 3; tries++) {
      k = 16 - e;
      if (k < 0 || k > 22) break;
      twoProduct(x, k);
      const hi = PROD[0] as number;
      const lo = PROD[1] as number;
      if (hi < 1e16 || (hi === 1e16 && lo < 0)) e--;
      else if (hi > 1e17 || (hi === 1e17 && lo >= 0)) e++;
      else return writeDigits1617(buf, pos, x, e, true);
    }
    return writeAscii(buf, pos, String(x));
  }
  if (x === 0) {
    buf[pos++] = 48;
    return pos;
  }
  return writeAscii(buf, pos, String(x));
}

/** 16 or 17 digits for x with exact decimal exponent e (PROD = x·10^(16−e) when haveP17). */
function writeDigits1617(buf: Uint8Array, pos: number, x: number, e: number, haveP17: boolean): number {
  let h17 = PROD[0] as number;
  let l17 = PROD[1] as number;
  const lowWord = words[0] as number; // bits of x, set by writeNumber
  const highWord = words[1] as number;
  if (lowWord === 0 && (highWord & 0xfffff) === 0) return writeAscii(buf, pos, String(x)); // a power of two: lopsided interval
  // 16 digits: N = nearest integer to x·10^k16 (ties to even).
  const k16 = 15 - e;
  twoProduct(x, k16);
  const h = PROD[0] as number;
  const l = PROD[1] as number;
  if (h < TWO53) {
    let n = Math.floor(h);
    const f = h - n; // a multiple of h's ulp (≥ 1/8 here), so only f = 0.5 needs lo to decide
    if (f > 0.5 || (f === 0.5 && (l > 0 || (l === 0 && n % 2 === 1)))) n += 1;
    if (n / (P10[k16] as number) === x) {
      split(n, 0);
      return writeScaled(buf, pos, digitsOfQR(), k16);
    }
  } else {
    // h is an even integer here and |l| ≤ 1; ties go to h (even).
    const r = l > 0.5 ? 1 : l < -0.5 ? -1 : 0;
    const d = Math.abs(r - l); // exact (Sterbenz)
    const halfUlp = halfUlpOf(highWord);
    const t = halfUlp * (P10[k16] as number); // exact: a power of two times 10^k
    if (d < t || (d === t && (lowWord & 1) === 0)) {
      split(h, r);
      return writeScaled(buf, pos, digitsOfQR(), k16);
    }
  }
  // 17 digits always read back; nearest, ties to even (h17 is even).
  if (!haveP17) {
    twoProduct(x, 16 - e);
    h17 = PROD[0] as number;
    l17 = PROD[1] as number;
  }
  const fl = Math.floor(l17);
  const mid = fl + 0.5; // exact (|l17| ≤ 8), so the comparisons below are exact
  const r = l17 > mid || (l17 === mid && (fl & 1) !== 0) ? fl + 1 : fl;
  split(h17, r);
  return writeScaled(buf, pos, digitsOfQR(), 16 - e);
}

const half = new Float64Array(1);
const halfWords = new Uint32Array(half.buffer);
/** Half an ulp of a positive normal double with this high word: 2^(E − 53). */
function halfUlpOf(highWord: number): number {
  const biased = (highWord >>> 20) & 0x7ff;
  halfWords[0] = 0;
  halfWords[1] = (biased - 53) << 20;
  return half[0] as number;
}

/** Writes `String(+x.toPrecision(8))` (8 significant digits, for float32 values) at `pos`. */
export function writeFloat32Rounded(buf: Uint8Array, pos: number, x: number): number {
  let a = x;
  if (a < 0) a = -a;
  if (a >= 1e-5 && a < 1e15) {
    bits[0] = a;
    const biased = (words[1] as number) >>> 20;
    let e = (E10[biased] as number) + (a >= (UP[biased] as number) ? 1 : 0);
    for (let tries = 0; tries < 3; tries++) {
      const k = 7 - e;
      if (k < 0 || k > 22) break;
      twoProduct(a, k);
      const h = PROD[0] as number;
      const l = PROD[1] as number;
      if (h < 1e7 || (h === 1e7 && l < 0)) e--;
      else if (h > 1e8 || (h === 1e8 && l >= 0)) e++;
      else {
        // toPrecision rounds half away from zero; h < 2^27, so its fraction is exact.
        let n = Math.floor(h);
        const f = h - n;
        if (f > 0.5 || (f === 0.5 && l >= 0)) n += 1;
        if (x < 0) buf[pos++] = 45;
        split(n, 0);
        return writeScaled(buf, pos, digitsOfQR(), k);
      }
    }
  }
  if (x === 0) {
    buf[pos++] = 48;
    return pos;
  }
  return writeAscii(buf, pos, String(+x.toPrecision(8)));
}
