/* checks.ts - the checks the server makes that the browser can make first,
 * so that a typing mistake is caught as it is typed and never sent:
 * the voucher number's Damm check digit (common/sp_voucher_number.c) and the
 * IBAN's ISO 13616 mod-97 (common/sp_profile.c). The server checks
 * again: these only save a round trip and say it sooner. */

/* Damm's quasigroup of order 10, the table of common/sp_voucher_number.c. */
const DAMM = [
  [0, 3, 1, 7, 5, 9, 8, 6, 4, 2], [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
  [4, 2, 0, 6, 8, 7, 1, 3, 5, 9], [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
  [6, 1, 2, 3, 0, 4, 5, 9, 7, 8], [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
  [5, 8, 6, 9, 7, 2, 0, 1, 3, 4], [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
  [9, 4, 3, 8, 6, 1, 7, 2, 0, 5], [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

export const VOUCHER_DIGITS = 16;

export function dammValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let interim = 0;
  for (const ch of digits) interim = DAMM[interim]![ch.charCodeAt(0) - 48]!;
  return interim === 0;
}

/** Digits of a typed voucher number (spaces and dashes ignored, as the API
 * does); null when anything else is in it. */
export function voucherDigits(typed: string): string | null {
  const digits = typed.replace(/[\s-]/g, '');
  return /^\d*$/.test(digits) ? digits : null;
}

export type VoucherCheck = 'incomplete' | 'not_digits' | 'too_long' | 'invalid' | 'valid';

export function checkVoucherNumber(typed: string): VoucherCheck {
  const digits = voucherDigits(typed);
  if (digits === null) return 'not_digits';
  if (digits.length < VOUCHER_DIGITS) return 'incomplete';
  if (digits.length > VOUCHER_DIGITS) return 'too_long';
  return digits[0] !== '0' && dammValid(digits) ? 'valid' : 'invalid';
}

/* IBAN lengths of the SEPA countries (common/sp_profile.c). */
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24, AT: 20, BE: 16, BG: 22, CH: 21, CY: 28, CZ: 24, DE: 22, DK: 18, EE: 20, ES: 24,
  FI: 18, FR: 27, GB: 22, GI: 23, GR: 27, HR: 21, HU: 28, IE: 22, IS: 26, IT: 27, LI: 21,
  LT: 20, LU: 20, LV: 21, MC: 27, MT: 31, NL: 18, NO: 15, PL: 28, PT: 25, RO: 24, SE: 24,
  SI: 19, SK: 24, SM: 27, VA: 22,
};

export type IbanCheck = 'empty' | 'incomplete' | 'bad_shape' | 'bad_length' | 'bad_checksum' | 'valid';

export function normalizeIban(typed: string): string {
  return typed.replace(/\s+/g, '').toUpperCase();
}

export function ibanMod97(iban: string): number {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const value = ch >= 'A' && ch <= 'Z' ? String(ch.charCodeAt(0) - 55) : ch;
    for (const digit of value) remainder = (remainder * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return remainder;
}

/** The IBAN as typed so far: `incomplete` while it may still become right. */
export function checkIban(typed: string): IbanCheck {
  const iban = normalizeIban(typed);
  if (iban === '') return 'empty';
  if (!/^[A-Z0-9]+$/.test(iban)) return 'bad_shape';
  const head = iban.slice(0, 4);
  if (!/^[A-Z]{0,2}$/.test(head) && !/^[A-Z]{2}\d{1,2}$/.test(head)) return 'bad_shape';
  if (iban.length < 4) return 'incomplete';
  const expected = IBAN_LENGTHS[iban.slice(0, 2)];
  if (expected !== undefined) {
    if (iban.length < expected) return 'incomplete';
    if (iban.length > expected) return 'bad_length';
  } else {
    if (iban.length < 15) return 'incomplete';
    if (iban.length > 34) return 'bad_length';
  }
  return ibanMod97(iban) === 1 ? 'valid' : 'bad_checksum';
}

/** `FR76 3000 6000 0112 3456 7890 189`. */
export function groupIban(typed: string): string {
  return normalizeIban(typed).replace(/(.{4})(?=.)/g, '$1 ');
}

export function bicValid(typed: string): boolean {
  return /^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/.test(typed.replace(/\s+/g, '').toUpperCase());
}

/** The partner code's Luhn check digit (8 digits). */
export function partnerCodeValid(typed: string): boolean {
  const digits = typed.replace(/[\s-]/g, '');
  if (!/^\d{8}$/.test(digits)) return false;
  let total = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    total += d;
  }
  return total % 10 === 0;
}
