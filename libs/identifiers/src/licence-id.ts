import { checkCreditCode } from './credit-code';
import { fail, IdentifierCheck, InvalidIdentifierError, throwIfInvalid } from './identifier-check';

/** OID arc under which GB/T 36904-2018 electronic licence identifiers are registered. */
export const LICENCE_ID_ROOT = '1.2.156.3005.2';

const ROOT_SEGMENTS = LICENCE_ID_ROOT.split('.');
const SEGMENT_COUNT = ROOT_SEGMENTS.length + 5;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const M = 36;
const BODY = /^[0-9A-Z]+$/;
const TYPE_SUFFIX = /^\d{3}$/;
const SERIAL = /^[0-9A-Z]{1,64}$/;
const VERSION = /^\d{3}$/;

/** The parts of a GB/T 36904 licence identifier after the root. */
export interface LicenceIdParts {
  typeCode: string;
  issuerCode: string;
  serial: string;
  version: string;
  check: string;
}

/** Computes the ISO/IEC 7064 MOD 37,36 check character over type‖issuer‖serial‖version. */
export function licenceIdCheckChar(body: string): string {
  if (typeof body !== 'string' || !BODY.test(body)) {
    throw new InvalidIdentifierError('GBT36904_FORMAT', 'check input must be one or more characters 0-9 or A-Z (ISO/IEC 7064 MOD 37,36)');
  }
  let p = M;
  for (let i = 0; i < body.length; i++) {
    const s = (p + ALPHABET.indexOf(body[i])) % M || M;
    p = (s * 2) % (M + 1);
  }
  // The check character is the one that brings the final running value to 1.
  return ALPHABET[(((1 - p) % M) + M) % M];
}

/** Validates a GB/T 36904-2018 electronic licence identifier. */
export function checkLicenceId(value: string): IdentifierCheck {
  if (typeof value !== 'string') {
    return fail('GBT36904_FORMAT', 'licence identifier must be a string (GB/T 36904)');
  }
  const segments = value.split('.');
  if (segments.length !== SEGMENT_COUNT) {
    return fail('GBT36904_FORMAT', `licence identifier must be ${LICENCE_ID_ROOT} followed by 5 dot-separated parts: type, issuer, serial, version, check (GB/T 36904)`);
  }
  if (ROOT_SEGMENTS.some((s, i) => segments[i] !== s)) {
    return fail('GBT36904_ROOT', `licence identifier must start with the root ${LICENCE_ID_ROOT} (GB/T 36904)`);
  }
  const [typeCode, issuerCode, serial, version, check] = segments.slice(ROOT_SEGMENTS.length);
  const parts = checkParts({ typeCode, issuerCode, serial, version });
  if (parts) return parts;
  if (check.length !== 1 || !ALPHABET.includes(check)) {
    return fail('GBT36904_CHECK_CHARACTER', 'check part must be a single character 0-9 or A-Z (ISO/IEC 7064 MOD 37,36)');
  }
  if (check !== licenceIdCheckChar(typeCode + issuerCode + serial + version)) {
    return fail('GBT36904_CHECK_CHARACTER', 'check character does not match (ISO/IEC 7064 MOD 37,36, GB/T 36904)');
  }
  return { ok: true, value };
}

/** Splits a licence identifier into its parts; throws InvalidIdentifierError if it is not valid. */
export function parseLicenceId(value: string): LicenceIdParts {
  throwIfInvalid(checkLicenceId(value));
  const [typeCode, issuerCode, serial, version, check] = value.split('.').slice(ROOT_SEGMENTS.length);
  return { typeCode, issuerCode, serial, version, check };
}

/** Assembles a licence identifier with its check character; throws InvalidIdentifierError on a bad part. */
export function buildLicenceId(parts: Omit<LicenceIdParts, 'check'>): string {
  const problem = checkParts(parts);
  if (problem) throwIfInvalid(problem);
  const { typeCode, issuerCode, serial, version } = parts;
  const check = licenceIdCheckChar(typeCode + issuerCode + serial + version);
  return [LICENCE_ID_ROOT, typeCode, issuerCode, serial, version, check].join('.');
}

function checkParts(parts: Omit<LicenceIdParts, 'check'>): IdentifierCheck | undefined {
  const { typeCode, issuerCode, serial, version } = parts;
  if (typeof typeCode !== 'string' || typeCode.length !== 21 || !checkCreditCode(typeCode.slice(0, 18)).ok || !TYPE_SUFFIX.test(typeCode.slice(18))) {
    return fail('GBT36904_TYPE_CODE', "type code must be the defining body's valid GB 32100 credit code followed by 3 digits (GB/T 36904)");
  }
  if (typeof issuerCode !== 'string' || !checkCreditCode(issuerCode).ok) {
    return fail('GBT36904_ISSUER_CODE', "issuer code must be the issuing organ's valid 18-character GB 32100 credit code (GB/T 36904)");
  }
  if (typeof serial !== 'string' || !SERIAL.test(serial)) {
    return fail('GBT36904_SERIAL', 'serial must be 1 to 64 characters 0-9 or A-Z (GB/T 36904)');
  }
  if (typeof version !== 'string' || !VERSION.test(version)) {
    return fail('GBT36904_VERSION', 'version must be exactly 3 digits (GB/T 36904)');
  }
  return undefined;
}
