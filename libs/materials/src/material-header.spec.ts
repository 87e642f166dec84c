import fc from 'fast-check';
import { MaterialHeader } from '@tongban/proto';
import { checkMaterialHeader, HeaderProblem } from './material-header';

const good = (o: Partial<MaterialHeader> = {}) =>
  MaterialHeader.encode({
    collaborationId: '440000-20261125-3F2A9C01B7',
    materialId: '0f1c2d3e-aaaa-4bbb-8ccc-123456789abc',
    name: 'RESIDENT_ID_CARD/身份证.pdf',
    mediaType: 'application/pdf',
    size: '1000',
    sha256: 'a'.repeat(64),
    ...o,
  }).finish();
const problem = (bytes: Uint8Array, max = 2000) => {
  try {
    checkMaterialHeader(bytes, max);
    return 'OK';
  } catch (e) {
    if (!(e instanceof HeaderProblem)) throw e;
    return e.code;
  }
};

describe('checkMaterialHeader (signed PushMaterial header from a peer)', () => {
  it('accepts a well-formed header and splits code and file name', () => {
    expect(checkMaterialHeader(good(), 2000)).toMatchObject({ code: 'RESIDENT_ID_CARD', name: '身份证.pdf', size: 1000 });
  });

  it('refuses text no backend can store (here a NUL in collaboration_id), naming the field (rule STORABLE_TEXT)', () => {
    const detail = (o: Partial<MaterialHeader>) => {
      try {
        checkMaterialHeader(good(o), 2000);
      } catch (e) {
        return e instanceof HeaderProblem ? `${e.code} ${e.detail}` : 'other';
      }
      return 'OK';
    };
    expect(detail({ collaborationId: '440000-2026\u0000' })).toBe('MALFORMED_PAYLOAD STORABLE_TEXT: collaborationId: must not contain the NUL character (U+0000)');
  });

  it.each<[Partial<MaterialHeader>, string]>([
    [{ name: 'no-code.pdf' }, 'MALFORMED_PAYLOAD'],
    [{ name: 'RESIDENT_ID_CARD/' }, 'MALFORMED_PAYLOAD'],
    [{ name: 'RESIDENT_ID_CARD/a\u0000b' }, 'MALFORMED_PAYLOAD'],
    [{ name: `RESIDENT_ID_CARD/${'x'.repeat(151)}` }, 'MALFORMED_PAYLOAD'],
    [{ sha256: 'A'.repeat(64) }, 'MALFORMED_PAYLOAD'],
    [{ mediaType: 'text/html' }, 'MALFORMED_PAYLOAD'],
    [{ materialId: 'a/b' }, 'MALFORMED_PAYLOAD'],
    [{ collaborationId: '' }, 'MALFORMED_PAYLOAD'],
    [{ size: '0' }, 'MALFORMED_PAYLOAD'],
    [{ size: '18446744073709551615' }, 'MALFORMED_PAYLOAD'],
    [{ size: '2001' }, 'PAYLOAD_TOO_LARGE'],
  ])('%j → %s', (o, code) => {
    expect(problem(good(o))).toBe(code);
  });

  it('arbitrary bytes are either a checked header or a HeaderProblem, never another error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(['OK', 'MALFORMED_PAYLOAD', 'PAYLOAD_TOO_LARGE']).toContain(problem(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('arbitrary field values never get through unchecked', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 80 }),
        fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^[A-Z_]{1,8}\/.{0,20}$/)),
        fc.oneof(fc.integer({ min: 0, max: 3000 }).map(BigInt), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(String),
        fc.oneof(fc.string({ maxLength: 70 }), fc.stringMatching(/^[0-9a-fA-F]{64}$/)),
        (id, name, size, sha) => {
          try {
            const c = checkMaterialHeader(good({ materialId: id, name, size, sha256: sha }), 2000);
            expect(c.size).toBeGreaterThan(0);
            expect(c.size).toBeLessThanOrEqual(2000);
            expect(c.header.sha256).toMatch(/^[0-9a-f]{64}$/);
            expect(c.code).toMatch(/^[A-Z0-9_-]{1,60}$/);
          } catch (e) {
            expect(e).toBeInstanceOf(HeaderProblem);
          }
        },
      ),
    );
  });
});
