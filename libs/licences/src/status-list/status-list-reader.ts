import { STATUS_LIST_SIZE, STATUS_SIZE, changedAtOf, decompressBase64url, entryValue } from './bitstring';
import { StatusListClaims } from './status-list-claims';

/** The status of one entry as a list says it. UNKNOWN: the reserved value 3. */
export interface ListedEntry {
  status: 'VALID' | 'SUSPENDED' | 'REVOKED' | 'UNKNOWN';
  /** Time of change (seconds since the epoch) for a non-VALID entry, if the list gives one. */
  changedAt: number | null;
}

/** A decoded list, ready for lookups. */
export interface DecodedStatusList {
  size: number;
  bits: Buffer;
  changes: Buffer;
}

const MAX_SIZE = 1 << 24;
const NAMES = ['VALID', 'SUSPENDED', 'REVOKED', 'UNKNOWN'] as const;

/** Decodes the claims of a verified list; throws naming the claim that is not as docs/protocol-status.md §2 says. */
export function decodeStatusList(c: Partial<StatusListClaims>): DecodedStatusList {
  if (!Number.isInteger(c.size) || c.size! < STATUS_LIST_SIZE || c.size! > MAX_SIZE || c.size! % 8 !== 0) throw new Error(`size must be a multiple of 8 from ${STATUS_LIST_SIZE} to ${MAX_SIZE}`);
  if (c.statusSize !== STATUS_SIZE) throw new Error(`statusSize must be ${STATUS_SIZE}`);
  if (typeof c.encodedList !== 'string' || typeof c.changes !== 'string') throw new Error('encodedList and changes must be strings');
  const bytes = (c.size! * STATUS_SIZE) / 8;
  const bits = decompressBase64url(c.encodedList, bytes);
  if (bits.length !== bytes) throw new Error(`encodedList must decompress to ${bytes} bytes`);
  const changes = decompressBase64url(c.changes, c.size! * 8);
  if (changes.length % 8 !== 0) throw new Error('changes must decompress to 8-byte records');
  // Looked up by binary search: records out of order, repeated or outside the list would give wrong times.
  for (let at = 0, prev = -1; at < changes.length; at += 8) {
    const idx = changes.readUInt32BE(at);
    if (idx <= prev || idx >= c.size!) throw new Error('changes must be sorted by index, each index once and below size');
    prev = idx;
  }
  // The list covers one licence type: the one its id names.
  if (c.sub !== undefined && c.licenceType !== c.sub.slice(0, 21)) throw new Error('licenceType must be the type code of the list id (sub)');
  return { size: c.size!, bits, changes };
}

/** What the list says about entry `idx` (which must be below its size). */
export function listedEntry(list: DecodedStatusList, idx: number): ListedEntry {
  if (!Number.isInteger(idx) || idx < 0 || idx >= list.size) throw new RangeError(`index ${idx} outside the list (size ${list.size})`);
  const status = NAMES[entryValue(list.bits, idx)];
  return { status, changedAt: status === 'VALID' ? null : changedAtOf(list.changes, idx) };
}
