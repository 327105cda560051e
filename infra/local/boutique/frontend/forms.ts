import type { IncomingMessage } from 'node:http';
import { luhnValid } from '../card';
import type { Address, CreditCardInfo } from '../types';

/** An HTTP failure rendered as the error page with this status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const MAX_BODY = 64 * 1024;

/** Reads a form body: application/x-www-form-urlencoded, or multipart/form-data text fields (as FormData sends). */
export async function readForm(req: IncomingMessage): Promise<Map<string, string>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks).toString('utf8');
  const type = req.headers['content-type'] ?? '';
  const boundary = /multipart\/form-data;.*boundary="?([^";]+)"?/i.exec(type)?.[1];
  const form = new Map<string, string>();
  if (boundary) {
    for (const part of body.split(`--${boundary}`)) {
      const m = /^\r\n([\s\S]*?)\r\n\r\n([\s\S]*)\r\n$/.exec(part);
      if (!m) continue;
      const name = /content-disposition:[^\r\n]*\bname="([^"]*)"/i.exec(m[1] ?? '')?.[1];
      if (name !== undefined && !form.has(name)) form.set(name, m[2] ?? '');
    }
    return form;
  }
  for (const [k, v] of new URLSearchParams(body)) if (!form.has(k)) form.set(k, v);
  return form;
}

/** Collects every field problem so the 422 page lists them all (like upstream's validator). */
class Problems {
  readonly list: string[] = [];
  add(field: string, problem: string): void {
    this.list.push(`${field}: ${problem}`);
  }
  throwIfAny(): void {
    if (this.list.length > 0) throw new HttpError(422, `invalid form input: ${this.list.join('; ')}`);
  }
}

function str(form: Map<string, string>, field: string, p: Problems, max?: number): string {
  const v = (form.get(field) ?? '').trim();
  if (!v) p.add(field, 'is required');
  else if (max !== undefined && v.length > max) p.add(field, `must be at most ${max} characters`);
  return v;
}

const INT32_MAX = 2 ** 31 - 1;

function int(form: Map<string, string>, field: string, p: Problems, min: number, max: number): number {
  const raw = (form.get(field) ?? '').trim();
  const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!raw) p.add(field, 'is required');
  else if (!Number.isSafeInteger(n)) p.add(field, 'must be an integer');
  else if (n < min || n > max) p.add(field, `must be between ${min} and ${max}`);
  return n;
}

export function parseAddToCart(form: Map<string, string>): { productId: string; quantity: number } {
  const p = new Problems();
  const productId = str(form, 'product_id', p);
  const quantity = int(form, 'quantity', p, 1, 10);
  p.throwIfAny();
  return { productId, quantity };
}

/** ISO 4217 alphabetic codes (upstream validates `currency_code` with the `iso4217` tag). */
const ISO_4217 = new Set(
  (
    'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD ' +
    'CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP ' +
    'GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW ' +
    'KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD ' +
    'NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE ' +
    'SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED ' +
    'VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWL'
  ).split(' '),
);

export function parseCurrency(form: Map<string, string>): string {
  const p = new Problems();
  const code = str(form, 'currency_code', p);
  if (code && !ISO_4217.has(code)) p.add('currency_code', `${JSON.stringify(code)} is not an ISO 4217 currency code`);
  p.throwIfAny();
  return code;
}

const EMAIL_RE = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

export interface CheckoutForm {
  email: string;
  address: Address;
  creditCard: CreditCardInfo;
}

export function parseCheckout(form: Map<string, string>, now = new Date()): CheckoutForm {
  const p = new Problems();
  const email = str(form, 'email', p);
  if (email && !EMAIL_RE.test(email)) p.add('email', 'must be a valid email address');
  const streetAddress = str(form, 'street_address', p, 512);
  const zipCode = int(form, 'zip_code', p, 1, INT32_MAX);
  const city = str(form, 'city', p, 128);
  const state = str(form, 'state', p, 128);
  const country = str(form, 'country', p, 128);
  const cardNumber = str(form, 'credit_card_number', p).replace(/[\s-]/g, '');
  if (cardNumber && !(/^\d{12,19}$/.test(cardNumber) && luhnValid(cardNumber))) {
    p.add('credit_card_number', 'must be a valid credit card number');
  }
  const month = int(form, 'credit_card_expiration_month', p, 1, 12);
  const thisYear = now.getUTCFullYear();
  const year = int(form, 'credit_card_expiration_year', p, 1, thisYear + 100);
  const cvv = int(form, 'credit_card_cvv', p, 1, 9999);
  p.throwIfAny();
  return {
    email,
    address: { street_address: streetAddress, city, state, country, zip_code: zipCode },
    creditCard: {
      credit_card_number: cardNumber,
      credit_card_cvv: cvv,
      credit_card_expiration_year: year,
      credit_card_expiration_month: month,
    },
  };
}
