import { InvalidIdentifierError } from './identifier-check';

const REGION_CODE = /^\d{6}$/;

/** Returns the GB/T 2260 province-level code (first two digits + '0000') of a 6-digit region code. */
export function provinceCodeOf(regionCode6: string): string {
  if (typeof regionCode6 !== 'string' || !REGION_CODE.test(regionCode6)) {
    throw new InvalidIdentifierError('GBT2260_REGION_CODE', 'region code must be exactly 6 digits (GB/T 2260)');
  }
  return regionCode6.slice(0, 2) + '0000';
}
