import fc from 'fast-check';
import { creditCodeCheckChar } from './credit-code';
import { buildLicenceId, checkLicenceId, LICENCE_ID_ROOT, licenceIdCheckChar, parseLicenceId } from './licence-id';

const BUSINESS = '1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0';
const MARRIAGE = '1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U';

const CREDIT_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

const chars = (alphabet: string, min: number, max = min) => fc.string({ unit: fc.constantFrom(...alphabet), minLength: min, maxLength: max });
const creditCode = fc
  .tuple(chars(CREDIT_ALPHABET, 2), chars('0123456789', 6), chars(CREDIT_ALPHABET, 9))
  .map((p) => p.join(''))
  .map((body) => body + creditCodeCheckChar(body));
const parts = fc.record({
  typeCode: fc.tuple(creditCode, chars('0123456789', 3)).map(([c, s]) => c + s),
  issuerCode: creditCode,
  serial: chars(ALNUM, 1, 64),
  version: chars('0123456789', 3),
});

/** Replaces the segment at `index` (0-based, root included) of a dotted identifier. */
const withSegment = (id: string, index: number, segment: string) =>
  id
    .split('.')
    .map((s, i) => (i === index ? segment : s))
    .join('.');

describe('checkLicenceId', () => {
  it.each([BUSINESS, MARRIAGE])('accepts the real example %s', (id) => {
    expect(checkLicenceId(id)).toEqual({ ok: true, value: id });
  });

  it.each([
    ['wrong check character', withSegment(BUSINESS, 9, '1'), 'GBT36904_CHECK_CHARACTER'],
    ['lower-case check character', withSegment(MARRIAGE, 9, 'u'), 'GBT36904_CHECK_CHARACTER'],
    ['two-character check', withSegment(MARRIAGE, 9, 'UU'), 'GBT36904_CHECK_CHARACTER'],
    ['empty check', withSegment(MARRIAGE, 9, ''), 'GBT36904_CHECK_CHARACTER'],
    ['wrong root arc', BUSINESS.replace('1.2.156.3005.2.', '1.2.156.3005.3.'), 'GBT36904_ROOT'],
    ['wrong country arc', BUSINESS.replace('1.2.156.', '1.2.840.'), 'GBT36904_ROOT'],
    ['missing root', BUSINESS.slice(LICENCE_ID_ROOT.length + 1), 'GBT36904_FORMAT'],
    ['missing check', BUSINESS.slice(0, -2), 'GBT36904_FORMAT'],
    ['extra segment', BUSINESS + '.0', 'GBT36904_FORMAT'],
    ['empty string', '', 'GBT36904_FORMAT'],
    ['issuer with wrong check character', withSegment(BUSINESS, 6, '11330105002500287D'), 'GBT36904_ISSUER_CODE'],
    ['issuer of 17 characters', withSegment(BUSINESS, 6, '11330105002500287'), 'GBT36904_ISSUER_CODE'],
    ['lower-case issuer', withSegment(BUSINESS, 6, '11330105002500287c'), 'GBT36904_ISSUER_CODE'],
    ['type code of 18 characters', withSegment(BUSINESS, 5, '11100000000013338W'), 'GBT36904_TYPE_CODE'],
    ['type code with bad credit check', withSegment(BUSINESS, 5, '11100000000013338X009'), 'GBT36904_TYPE_CODE'],
    ['type code with letter suffix', withSegment(BUSINESS, 5, '11100000000013338W00A'), 'GBT36904_TYPE_CODE'],
    ['empty serial', withSegment(BUSINESS, 7, ''), 'GBT36904_SERIAL'],
    ['lower-case serial', withSegment(BUSINESS, 7, '2025052201a'), 'GBT36904_SERIAL'],
    ['65-character serial', withSegment(BUSINESS, 7, '1'.repeat(65)), 'GBT36904_SERIAL'],
    ['2-digit version', withSegment(BUSINESS, 8, '02'), 'GBT36904_VERSION'],
    ['lettered version', withSegment(BUSINESS, 8, '00A'), 'GBT36904_VERSION'],
  ])('rejects %s', (_label, value, rule) => {
    expect(checkLicenceId(value)).toMatchObject({ ok: false, rule });
  });

  it('names MOD 37,36 in the check message and never echoes the input', () => {
    const result = checkLicenceId(withSegment(BUSINESS, 9, '1'));
    if (result.ok) throw new Error('expected failure');
    expect(result.message).toMatch(/MOD 37,36/);
    expect(result.message).not.toContain('11330105002500287C');
  });

  it('property: building from valid parts yields a valid identifier that parses back', () => {
    fc.assert(
      fc.property(parts, (p) => {
        const id = buildLicenceId(p);
        expect(checkLicenceId(id)).toEqual({ ok: true, value: id });
        expect(parseLicenceId(id)).toEqual({ ...p, check: id.slice(-1) });
      }),
    );
  });

  it('property: any single-character substitution anywhere in the identifier is rejected', () => {
    fc.assert(
      fc.property(parts, fc.nat(), fc.constantFrom(...ALNUM, '.', 'a', 'x', '-', ' '), (p, n, ch) => {
        const id = buildLicenceId(p);
        const pos = n % id.length;
        fc.pre(ch !== id[pos]);
        const mutated = id.slice(0, pos) + ch + id.slice(pos + 1);
        const result = checkLicenceId(mutated);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.message).not.toContain(p.issuerCode);
      }),
    );
  });

  it('property: never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }),
          fc.array(fc.string({ maxLength: 25 }), { minLength: 10, maxLength: 10 }).map((s) => s.join('.')),
          fc.array(fc.string({ maxLength: 25 }), { minLength: 5, maxLength: 5 }).map((s) => `${LICENCE_ID_ROOT}.${s.join('.')}`),
        ),
        (s) => {
          expect(typeof checkLicenceId(s).ok).toBe('boolean');
        },
      ),
    );
  });
});

describe('licenceIdCheckChar', () => {
  it('reproduces both real check characters', () => {
    expect(licenceIdCheckChar('11100000000013338W009' + '11330105002500287C' + '2025052201' + '002')).toBe('0');
    expect(licenceIdCheckChar('11100000000013338W011' + '11430000006122244L' + '20230000403' + '001')).toBe('U');
  });

  // ISO 7064 MOD 37,36 detects every single substitution; it does not catch every adjacent
  // transposition (e.g. 'IJ' ↔ 'JI' before some suffixes), so only substitutions are asserted.
  it('property: detects every single substitution in a body plus check', () => {
    fc.assert(
      fc.property(chars(ALNUM, 1, 120), fc.nat(), fc.constantFrom(...ALNUM), (body, n, ch) => {
        const full = body + licenceIdCheckChar(body);
        const verifies = (s: string) => licenceIdCheckChar(s.slice(0, -1)) === s.slice(-1);
        expect(verifies(full)).toBe(true);
        const pos = n % full.length;
        if (ch !== full[pos]) expect(verifies(full.slice(0, pos) + ch + full.slice(pos + 1))).toBe(false);
      }),
    );
  });

  it('throws with a rule code on characters outside 0-9A-Z', () => {
    expect(() => licenceIdCheckChar('')).toThrow(expect.objectContaining({ rule: 'GBT36904_FORMAT' }));
    expect(() => licenceIdCheckChar('abc')).toThrow(expect.objectContaining({ rule: 'GBT36904_FORMAT' }));
  });
});

describe('parseLicenceId / buildLicenceId', () => {
  it('splits a real identifier into its parts', () => {
    expect(parseLicenceId(MARRIAGE)).toEqual({
      typeCode: '11100000000013338W011',
      issuerCode: '11430000006122244L',
      serial: '20230000403',
      version: '001',
      check: 'U',
    });
  });

  it('rebuilds a real identifier from its parts', () => {
    const { check: _check, ...rest } = parseLicenceId(BUSINESS);
    expect(buildLicenceId(rest)).toBe(BUSINESS);
  });

  it('throws with the rule code on an invalid identifier or part, without echoing it', () => {
    expect(() => parseLicenceId(withSegment(BUSINESS, 9, '1'))).toThrow(expect.objectContaining({ rule: 'GBT36904_CHECK_CHARACTER', message: expect.not.stringContaining('2025052201') }));
    expect(() => buildLicenceId({ typeCode: '11100000000013338W009', issuerCode: '11330105002500287D', serial: '1', version: '001' })).toThrow(
      expect.objectContaining({ rule: 'GBT36904_ISSUER_CODE' }),
    );
    expect(() => buildLicenceId({ typeCode: '11100000000013338W009', issuerCode: '11330105002500287C', serial: 'a', version: '001' })).toThrow(expect.objectContaining({ rule: 'GBT36904_SERIAL' }));
  });
});
