/** Card-number checks shared by the frontend's form validation and paymentservice. */

/** The Luhn mod-10 checksum over a string of digits. */
export function luhnValid(digits: string): boolean {
  let total = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    total += d;
  }
  return digits.length > 0 && total % 10 === 0;
}

export function cardType(digits: string): 'visa' | 'mastercard' | 'amex' | 'other' {
  if (/^4(\d{12}|\d{15}|\d{18})$/.test(digits)) return 'visa';
  const p4 = Number(digits.slice(0, 4));
  if (digits.length === 16 && (/^5[1-5]/.test(digits) || (p4 >= 2221 && p4 <= 2720))) return 'mastercard';
  if (/^3[47]\d{13}$/.test(digits)) return 'amex';
  return 'other';
}
