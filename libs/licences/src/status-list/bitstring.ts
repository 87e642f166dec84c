import { gunzipSync, gzipSync } from 'node:zlib';

/** Entries per list (W3C Bitstring Status List minimum: 131,072, so a list says nothing about one holder). */
export const STATUS_LIST_SIZE = 131_072;
/** Bits per entry: one list carries both SUSPENDED and REVOKED (docs/protocol-status.md §2.3). */
export const STATUS_SIZE = 2;
/** The value of an entry for each status; 3 is reserved (a decoder reports it as UNKNOWN). */
export const STATUS_VALUE = { VALID: 0, SUSPENDED: 1, REVOKED: 2 } as const;
export type ListedStatus = keyof typeof STATUS_VALUE;

/** One non-VALID entry: its index, status and time of change (whole seconds since the epoch). */
export interface StatusEntry {
  idx: number;
  status: Exclude<ListedStatus, 'VALID'>;
  changedAt: number;
}

const GZIP = { level: 9 } as const;

/**
 * The bitstring of a list: `size` entries of 2 bits, entry i in bits 2i and 2i+1 counted from the
 * most significant bit of byte 0 (W3C order: index 0 is the left-most bit), the higher bit first.
 */
export function encodeBitstring(size: number, entries: Iterable<StatusEntry>): Buffer {
  const bytes = Buffer.alloc((size * STATUS_SIZE) / 8);
  for (const e of entries) {
    if (!Number.isInteger(e.idx) || e.idx < 0 || e.idx >= size) throw new RangeError(`status list index ${e.idx} outside 0..${size - 1}`);
    const bit = e.idx * STATUS_SIZE;
    bytes[bit >> 3] |= STATUS_VALUE[e.status] << (6 - (bit & 7));
  }
  return bytes;
}

/** The 2-bit value of entry `idx` of a raw bitstring. */
export function entryValue(bits: Buffer, idx: number): number {
  const bit = idx * STATUS_SIZE;
  return (bits[bit >> 3] >> (6 - (bit & 7))) & 3;
}

/** GZIP (RFC 1952) then base64url without padding: the `encodedList` of a list. */
export function compressToBase64url(raw: Buffer): string {
  return gzipSync(raw, GZIP).toString('base64url');
}

/** Inverse of compressToBase64url; refuses output longer than `maxBytes` (a zip bomb stops there). */
export function decompressBase64url(encoded: string, maxBytes: number): Buffer {
  if (!/^[A-Za-z0-9_-]*$/.test(encoded)) throw new Error('not base64url');
  return gunzipSync(Buffer.from(encoded, 'base64url'), { maxOutputLength: maxBytes });
}

/** The `changes` of a list: 8-byte records (index, then time of change in seconds; uint32 big-endian), sorted by index. */
export function encodeChanges(entries: StatusEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => a.idx - b.idx);
  const out = Buffer.alloc(sorted.length * 8);
  sorted.forEach((e, i) => {
    out.writeUInt32BE(e.idx, i * 8);
    out.writeUInt32BE(e.changedAt, i * 8 + 4);
  });
  return out;
}

/** Time of change of entry `idx` from decoded `changes` records (binary search), or null. */
export function changedAtOf(changes: Buffer, idx: number): number | null {
  let lo = 0;
  let hi = Math.floor(changes.length / 8) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const at = changes.readUInt32BE(mid * 8);
    if (at === idx) return changes.readUInt32BE(mid * 8 + 4);
    if (at < idx) lo = mid + 1;
    else hi = mid - 1;
  }
  return null;
}
