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
 * A DNS name under `.tongban.invalid` other than the participant's own (participantDnsName) also
 * makes it name nobody: a peer that checks host names would take it for that other participant.
 */
export function participantFromSubjectAltName(san: string | undefined | null): string | null {
  if (!san) return null;
  // Node quotes (JSON-style) any entry holding a comma or other special character, so an entry
  // that matches ENTRY exactly cannot have been smuggled inside another one.
  const entries = san.split(', ');
  const codes = entries.map((entry) => ENTRY.exec(entry)?.[1]).filter((c): c is string => c !== undefined);
  if (codes.length !== 1) return null;
  const own = `dns:${participantDnsName(codes[0])}`;
  const named = entries.map((e) => e.toLowerCase().replace(/\.$/, ''));
  if (named.some((e) => e.endsWith(PARTICIPANT_DNS_SUFFIX) && e !== own)) return null;
  return codes[0];
}

/** The participant code of a certificate (X509Certificate or DER bytes), or null. */
export function participantOfCertificate(cert: X509Certificate | Buffer): string | null {
  const x = Buffer.isBuffer(cert) ? new X509Certificate(cert) : cert;
  return participantFromSubjectAltName(x.subjectAltName);
}

/**
 * The DNS name every certificate `tongban tls issue` makes for `code` carries, for gRPC stacks that
 * always check the server's host name (Go, Java, Python): a peer calling `code` connects with this
 * name as TLS server name / authority, then checks the participant URI (docs/protocol.md §1.1).
 * `.invalid` (RFC 2606) never resolves: it names the participant, not a host.
 */
export function participantDnsName(code: string): string {
  if (!/^\d{6}$/.test(code)) throw new Error(`participant code must be 6 digits, got ${JSON.stringify(code).slice(0, 20)}`);
  return `gateway-${code}${PARTICIPANT_DNS_SUFFIX}`;
}

/** The domain of participantDnsName. */
export const PARTICIPANT_DNS_SUFFIX = '.tongban.invalid';

/** The URI subjectAltName a certificate for `code` carries. */
export function participantUri(code: string): string {
  if (!/^\d{6}$/.test(code)) throw new Error(`participant code must be 6 digits, got ${JSON.stringify(code).slice(0, 20)}`);
  return PARTICIPANT_URI_PREFIX + code;
}
