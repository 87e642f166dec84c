// The one verification entry for every algorithm (EdDSA, ES256, SM2SM3) lives in @tongban/gm, beside
// the table of algorithms, so that the audit and directory verifiers use it too.
export { JwsAlgorithm, verifyJwsSignature } from '@tongban/gm';

/**
 * Whether a protected header's `crit` is one jose's verify accepts (RFC 7515 §4.1.11): absent, or a
 * non-empty list of names it understands (only `b64`, which must then be present and a boolean).
 * A token carrying any other critical extension does not verify.
 */
export function critAccepted(header: Record<string, unknown>): boolean {
  const crit = header.crit;
  if (crit === undefined) return true;
  if (!Array.isArray(crit) || crit.length === 0) return false;
  return crit.every((name) => name === 'b64') && typeof header.b64 === 'boolean';
}
