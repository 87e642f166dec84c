import { fail, IdentifierCheck, InvalidIdentifierError, throwIfInvalid } from './identifier-check';
import { provinceCodeOf } from './province';

// GB 32100 drops I, O, S, V and Z to avoid confusion with digits and each other.
const ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const MODULUS = 31;
const WEIGHTS = Array.from({ length: 17 }, (_, i) => {
  let w = 1;
  for (let k = 0; k < i; k++) w = (w * 3) % MODULUS;
  return w;
});
const REGION = /^\d{6}$/;

/** Computes the GB 32100 check character for the first 17 characters of a credit code. */
export function creditCodeCheckChar(first17: string): string {
  if (typeof first17 !== 'string' || first17.length !== 17) {
    throw new InvalidIdentifierError('GB32100_LENGTH', 'credit code body must be exactly 17 characters (GB 32100)');
  }
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const v = ALPHABET.indexOf(first17[i]);
    if (v < 0) {
      throw new InvalidIdentifierError('GB32100_ALPHABET', 'credit code characters must be from 0-9 and A-Y excluding I, O, S, V, Z (GB 32100)');
    }
    sum += v * WEIGHTS[i];
  }
  // 31 - 0 = 31 has no character of its own; the standard writes it as 0.
  return ALPHABET[(MODULUS - (sum % MODULUS)) % MODULUS];
}

/** Validates an 18-character GB 32100 unified social credit code (upper case only). */
export function checkCreditCode(value: string): IdentifierCheck {
  if (typeof value !== 'string') {
    return fail('GB32100_FORMAT', 'credit code must be a string (GB 32100)');
  }
  if (value.length !== 18) {
    return fail('GB32100_LENGTH', 'credit code must be exactly 18 characters (GB 32100)');
  }
  // Lower case is rejected rather than folded: the code is printed upper case and is compared verbatim elsewhere.
  if (/[a-z]/.test(value)) {
    return fail('GB32100_UPPER_CASE', 'credit code must be written in upper case (GB 32100)');
  }
  for (const ch of value) {
    if (!ALPHABET.includes(ch)) {
      return fail('GB32100_ALPHABET', 'credit code characters must be from 0-9 and A-Y excluding I, O, S, V, Z (GB 32100)');
    }
  }
  if (!REGION.test(value.slice(2, 8))) {
    return fail('GB32100_REGION', 'credit code positions 3-8 must be a 6-digit GB/T 2260 region code (GB 32100)');
  }
  if (value[17] !== creditCodeCheckChar(value.slice(0, 17))) {
    return fail('GB32100_CHECK_CHARACTER', 'check character does not match (MOD 31, GB 32100)');
  }
  return { ok: true, value };
}

/** Returns the registering authority's 6-digit GB/T 2260 region code (positions 3-8); throws if the code is invalid. */
export function creditCodeRegion(value: string): string {
  return throwIfInvalid(checkCreditCode(value)).slice(2, 8);
}

/** Returns the province-level region code of the registering authority; throws if the code is invalid. */
export function provinceOfCreditCode(value: string): string {
  return provinceCodeOf(creditCodeRegion(value));
}
