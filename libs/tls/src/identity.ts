import { X509Certificate } from 'node:crypto';

/**
 * A gateway's TLS identity is its participant code, carried in its certificate as exactly one
 * subjectAltName URI `urn:tongban:participant:<6 digits>` (docs/protocol.md §1.1). Host names and
 * IP addresses in the certificate are for ordinary TLS tooling; the federation checks the code.
 */
export const PARTICIPANT_URI_PREFIX = 'urn:tongban:participant:';

const ENTRY = /^URI:urn:tongban:participant:(\d{6})$/;

/**
 * The participant code named by a subjectAltName string as Node prints it
 * ("URI:urn:tongban:participant:110000, DNS:localhost, IP Address:127.0.0.1"), or null when it
 * names none or more than one (both are refused: a certificate must speak for one participant).
 */
export function participantFromSubjectAltName(san: string | undefined | null): string | null {
  if (!san) return null;
  // Node quotes (JSON-style) any entry holding a comma or other special character, so an entry
  // that matches ENTRY exactly cannot have been smuggled inside another one.
  const codes = san
    .split(', ')
    .map((entry) => ENTRY.exec(entry)?.[1])
    .filter((c): c is string => c !== undefined);
  return codes.length === 1 ? codes[0] : null;
}

/** The participant code of a certificate (X509Certificate or DER bytes), or null. */
export function participantOfCertificate(cert: X509Certificate | Buffer): string | null {
  const x = Buffer.isBuffer(cert) ? new X509Certificate(cert) : cert;
  return participantFromSubjectAltName(x.subjectAltName);
}

/** The URI subjectAltName a certificate for `code` carries. */
export function participantUri(code: string): string {
  if (!/^\d{6}$/.test(code)) throw new Error(`participant code must be 6 digits, got ${JSON.stringify(code).slice(0, 20)}`);
  return PARTICIPANT_URI_PREFIX + code;
}
