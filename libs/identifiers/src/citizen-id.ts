import { fail, IdentifierCheck, InvalidIdentifierError } from './identifier-check';

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS = '10X98765432';
const BODY = /^\d{17}$/;
const SHAPE = /^\d{17}[\dX]$/;
const MIN_BIRTH_YEAR = 1900;
// Birth dates are recorded as calendar dates in China Standard Time (UTC+8, no DST).
const CHINA_OFFSET_MS = 8 * 60 * 60 * 1000;

/** Computes the GB 11643 check character (ISO 7064 MOD 11-2) for the first 17 digits. */
export function citizenIdCheckChar(first17: string): string {
  if (typeof first17 !== 'string' || !BODY.test(first17)) {
    throw new InvalidIdentifierError('GB11643_FORMAT', 'citizen ID body must be exactly 17 digits (GB 11643)');
  }
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * WEIGHTS[i];
  return CHECK_CHARS[sum % 11];
}

/** Validates a GB 11643 citizen ID number; `now` bounds the birth date (defaults to the wall clock). */
export function checkCitizenId(value: string, now: Date = new Date()): IdentifierCheck {
  if (typeof value !== 'string') {
    return fail('GB11643_FORMAT', 'citizen ID number must be a string (GB 11643)');
  }
  if (value.length !== 18) {
    return fail('GB11643_LENGTH', 'citizen ID number must be exactly 18 characters (GB 11643)');
  }
  // A lower-case x is a common keying variant of the check character X, so it is accepted.
  const normalised = value.endsWith('x') ? value.slice(0, 17) + 'X' : value;
  if (!SHAPE.test(normalised)) {
    return fail('GB11643_FORMAT', 'citizen ID number must be 17 digits followed by a digit or X (GB 11643)');
  }
  const birthRule = birthDateProblem(normalised.slice(6, 14), now);
  if (birthRule) return fail('GB11643_BIRTH_DATE', birthRule);
  const expected = citizenIdCheckChar(normalised.slice(0, 17));
  if (normalised[17] !== expected) {
    return fail('GB11643_CHECK_CHARACTER', 'check character does not match (ISO 7064 MOD 11-2, GB 11643)');
  }
  return { ok: true, value: normalised };
}

/** Masks a citizen ID number for display: keeps only 3 leading and 1 trailing character. */
export function maskCitizenId(value: string): string {
  if (typeof value !== 'string' || value.length === 0) return '';
  if (value.length <= 4) return '*'.repeat(value.length);
  return value.slice(0, 3) + '*'.repeat(value.length - 4) + value.slice(-1).toUpperCase();
}

function birthDateProblem(yyyymmdd: string, now: Date): string | undefined {
  const year = Number(yyyymmdd.slice(0, 4));
  const month = Number(yyyymmdd.slice(4, 6));
  const day = Number(yyyymmdd.slice(6, 8));
  if (year < MIN_BIRTH_YEAR) {
    return 'birth date year must be 1900 or later (GB 11643)';
  }
  const date = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || month > 12 || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return 'birth date must be a real calendar date YYYYMMDD (GB 11643)';
  }
  const china = new Date(now.getTime() + CHINA_OFFSET_MS);
  const today = Date.UTC(china.getUTCFullYear(), china.getUTCMonth(), china.getUTCDate());
  if (Number.isNaN(today) || date.getTime() > today) {
    return 'birth date must not be in the future (GB 11643)';
  }
  return undefined;
}
