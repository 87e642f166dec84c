import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { STATUS_LIST_SIZE, StatusEntry, changedAtOf, compressToBase64url, decompressBase64url, encodeBitstring, encodeChanges, entryValue } from './bitstring';
import { decodeStatusList, listedEntry } from './status-list-reader';

describe('status list bitstring', () => {
  it('puts entry i in bits 2i and 2i+1 from the most significant bit of byte 0, higher bit first', () => {
    const bits = encodeBitstring(16, [
      { idx: 0, status: 'SUSPENDED', changedAt: 1 },
      { idx: 3, status: 'REVOKED', changedAt: 2 },
      { idx: 5, status: 'REVOKED', changedAt: 3 },
    ]);
    // entries 0..3 = 01 00 00 10 → 0x42; entries 4..7 = 00 10 00 00 → 0x20
    expect([...bits]).toEqual([0x42, 0x20, 0, 0]);
    expect([0, 1, 2, 3, 4, 5].map((i) => entryValue(bits, i))).toEqual([1, 0, 0, 2, 0, 2]);
  });

  it('round-trips any set of entries through GZIP and base64url, with their times of change', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ idx: fc.nat(STATUS_LIST_SIZE - 1), status: fc.constantFrom('SUSPENDED' as const, 'REVOKED' as const), changedAt: fc.nat(2 ** 32 - 1) }), {
          selector: (e) => e.idx,
          maxLength: 200,
        }),
        (entries: StatusEntry[]) => {
          const list = decodeStatusList({
            size: STATUS_LIST_SIZE,
            statusSize: 2,
            encodedList: compressToBase64url(encodeBitstring(STATUS_LIST_SIZE, entries)),
            changes: compressToBase64url(encodeChanges(entries)),
          });
          for (const e of entries) expect(listedEntry(list, e.idx)).toEqual({ status: e.status, changedAt: e.changedAt });
          const listed = new Set(entries.map((e) => e.idx));
          for (let i = 0; i < 50; i++) if (!listed.has(i * 2621)) expect(listedEntry(list, i * 2621)).toEqual({ status: 'VALID', changedAt: null });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('an empty list of 131,072 entries compresses to under 100 base64url characters', () => {
    expect(compressToBase64url(encodeBitstring(STATUS_LIST_SIZE, [])).length).toBeLessThan(100);
  });

  it('refuses what does not fit: an index outside the list, a zip bomb, a short or odd list, the wrong statusSize', () => {
    expect(() => encodeBitstring(16, [{ idx: 16, status: 'REVOKED', changedAt: 0 }])).toThrow(RangeError);
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024)).toString('base64url');
    expect(() => decompressBase64url(bomb, 32768)).toThrow();
    const ok = { size: STATUS_LIST_SIZE, statusSize: 2, encodedList: compressToBase64url(encodeBitstring(STATUS_LIST_SIZE, [])), changes: compressToBase64url(Buffer.alloc(0)) };
    expect(() => decodeStatusList({ ...ok, encodedList: bomb })).toThrow();
    expect(() => decodeStatusList({ ...ok, size: 1024 })).toThrow(/size/);
    expect(() => decodeStatusList({ ...ok, statusSize: 1 })).toThrow(/statusSize/);
    expect(() => decodeStatusList({ ...ok, encodedList: compressToBase64url(Buffer.alloc(10)) })).toThrow(/decompress to 32768/);
    expect(() => decodeStatusList({ ...ok, changes: compressToBase64url(Buffer.alloc(7)) })).toThrow(/8-byte/);
    expect(() => decodeStatusList({ ...ok, encodedList: 'not base64!' })).toThrow();
    expect(() => listedEntry(decodeStatusList(ok), STATUS_LIST_SIZE)).toThrow(RangeError);
  });

  it('refuses change records out of order, repeated or outside the list, and a licenceType other than the list id names', () => {
    const record = (idx: number, at: number) => Buffer.from([idx >>> 24, (idx >>> 16) & 255, (idx >>> 8) & 255, idx & 255, at >>> 24, (at >>> 16) & 255, (at >>> 8) & 255, at & 255]);
    const ok = { size: STATUS_LIST_SIZE, statusSize: 2, encodedList: compressToBase64url(encodeBitstring(STATUS_LIST_SIZE, [])), sub: '11100000000013338W009-0', licenceType: '11100000000013338W009' };
    const changes = (...r: Buffer[]) => compressToBase64url(Buffer.concat(r));
    expect(() => decodeStatusList({ ...ok, changes: changes(record(7, 1), record(40, 2)) })).not.toThrow();
    expect(() => decodeStatusList({ ...ok, changes: changes(record(40, 1), record(7, 2)) })).toThrow(/sorted/);
    expect(() => decodeStatusList({ ...ok, changes: changes(record(7, 1), record(7, 2)) })).toThrow(/sorted/);
    expect(() => decodeStatusList({ ...ok, changes: changes(record(STATUS_LIST_SIZE, 1)) })).toThrow(/below size/);
    expect(() => decodeStatusList({ ...ok, changes: changes(), licenceType: '11100000000013338W011' })).toThrow(/licenceType/);
  });

  it('changedAtOf finds a record by binary search, null when absent', () => {
    const c = encodeChanges([
      { idx: 900, status: 'REVOKED', changedAt: 30 },
      { idx: 7, status: 'SUSPENDED', changedAt: 10 },
      { idx: 40, status: 'REVOKED', changedAt: 20 },
    ]);
    expect([7, 40, 900, 8].map((i) => changedAtOf(c, i))).toEqual([10, 20, 30, null]);
  });
});
