import { STATUS_SIZE, StatusEntry, compressToBase64url, encodeBitstring, encodeChanges } from './bitstring';

/** Protected-header `typ` of a status list JWS. */
export const STATUS_LIST_TYP = 'tongban-status-list+jwt';

/** Claims of a signed status list (docs/protocol-status.md §2). */
export interface StatusListClaims {
  /** Issuer province code. */
  iss: string;
  /** List id: `<licence type code>-<n>`. */
  sub: string;
  /** Signed at (seconds since the epoch). */
  iat: number;
  /** iat + ttl: after this the list is stale (its facts stay true as of iat). */
  exp: number;
  /** Content version: +1 whenever a status in the list changed. */
  ver: number;
  /** Seconds an asker may rely on the list without fetching again. */
  ttl: number;
  /** Licence type code the list covers. */
  licenceType: string;
  /** Number of entries. */
  size: number;
  /** Bits per entry (2). */
  statusSize: number;
  /** base64url(GZIP(bitstring)). */
  encodedList: string;
  /** base64url(GZIP(8-byte records: index, time of change)), for every non-VALID entry. */
  changes: string;
}

/** What an attestation carries to find its licence in a status list (claim `statusRef`). */
export interface StatusRef {
  list: string;
  idx: number;
}

/** A list id for the n-th list of a licence type. */
export const statusListId = (typeCode: string, seq: number): string => `${typeCode}-${seq}`;
/**
 * A well-formed list id: a licence type code (18 characters of the GB 32100 alphabet, then 3 digits),
 * a dash, and the list number in decimal without leading zeros, at most 6 digits (so one list has
 * one name).
 */
export const STATUS_LIST_ID = /^[0-9A-HJ-NP-RTUWXY]{18}\d{3}-(0|[1-9]\d{0,5})$/;

/** The two encoded parts of a list of `size` entries whose non-VALID entries are `entries` (§2.2). */
export function encodeStatusListContent(size: number, entries: StatusEntry[]): { encodedList: string; changes: string } {
  return { encodedList: compressToBase64url(encodeBitstring(size, entries)), changes: compressToBase64url(encodeChanges(entries)) };
}

/** The claims of a signed list, in their documented order (docs/protocol-status.md §2.3). */
export function statusListClaims(
  p: { iss: string; listId: string; typeCode: string; size: number; iat: number; ttl: number; ver: number },
  content: { encodedList: string; changes: string },
): StatusListClaims {
  return {
    iss: p.iss,
    sub: p.listId,
    iat: p.iat,
    exp: p.iat + p.ttl,
    ver: p.ver,
    ttl: p.ttl,
    licenceType: p.typeCode,
    size: p.size,
    statusSize: STATUS_SIZE,
    encodedList: content.encodedList,
    changes: content.changes,
  };
}
