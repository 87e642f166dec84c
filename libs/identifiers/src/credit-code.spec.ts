import fc from 'fast-check';
import { checkCreditCode, creditCodeCheckChar, creditCodeRegion, provinceOfCreditCode } from './credit-code';

const ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const VALID = ['91350100M000100Y43', '9135052155323005XL', '11100000000013338W'];

/** Independent weighted sum so the "sum mod 31 is 0" case is proven, not assumed. */
function weightedSum(first17: string): number {
  let sum = 0;
  let w = 1;
  for (const ch of first17) {
    sum += ALPHABET.indexOf(ch) * w;
    w = (w * 3) % 31;
  }
  return sum;
}

const chars = (alphabet: string, n: number) => fc.string({ unit: fc.constantFrom(...alphabet), minLength: n, maxLength: n });
const validBody = fc.tuple(chars(ALPHABET, 2), chars('0123456789', 6), chars(ALPHABET, 9)).map((p) => p.join(''));

describe('checkCreditCode', () => {
  it.each(VALID)('accepts %s', (code) => {
    expect(checkCreditCode(code)).toEqual({ ok: true, value: code });
  });

  it('writes a check value of 31 as 0 (sum mod 31 is 0)', () => {
    const body = '91440106MA5CX01KQ';
    expect(weightedSum(body) % 31).toBe(0);
    expect(creditCodeCheckChar(body)).toBe('0');
    expect(checkCreditCode(body + '0')).toEqual({ ok: true, value: body + '0' });
  });

  it.each([
    ['wrong check character', '91350100M000100Y44', 'GB32100_CHECK_CHARACTER'],
    ['17 characters', '91350100M000100Y4', 'GB32100_LENGTH'],
    ['19 characters', '91350100M000100Y433', 'GB32100_LENGTH'],
    ['empty', '', 'GB32100_LENGTH'],
    ['lower case', '91350100m000100y43', 'GB32100_UPPER_CASE'],
    ['excluded letter I', '91350100I000100Y43', 'GB32100_ALPHABET'],
    ['excluded letter O', '91350100M000100O43', 'GB32100_ALPHABET'],
    ['excluded letter S', '91350100M000100S43', 'GB32100_ALPHABET'],
    ['excluded letter V', '91350100M000100V43', 'GB32100_ALPHABET'],
    ['excluded letter Z', '9135052155323005XZ', 'GB32100_ALPHABET'],
    ['punctuation', '91350100-000100Y43', 'GB32100_ALPHABET'],
    ['letter in the region code', '91A50100M000100Y43', 'GB32100_REGION'],
  ])('rejects %s', (_label, value, rule) => {
    expect(checkCreditCode(value)).toMatchObject({ ok: false, rule });
  });

  it('explains the upper-case rule', () => {
    const result = checkCreditCode('9135052155323005xl');
    expect(result).toMatchObject({ ok: false, rule: 'GB32100_UPPER_CASE' });
    if (!result.ok) expect(result.message).toMatch(/upper case/);
  });

  it('property: the computed check character makes any valid body a valid code', () => {
    fc.assert(
      fc.property(validBody, (body) => {
        const code = body + creditCodeCheckChar(body);
        expect(checkCreditCode(code)).toEqual({ ok: true, value: code });
      }),
    );
  });

  it('property: any single-character substitution is rejected without echoing the input', () => {
    fc.assert(
      fc.property(validBody, fc.nat(17), fc.constantFrom(...ALPHABET, 'I', 'O', 'Z', 'a', ' '), (body, pos, ch) => {
        const code = body + creditCodeCheckChar(body);
        fc.pre(ch !== code[pos]);
        const mutated = code.slice(0, pos) + ch + code.slice(pos + 1);
        const result = checkCreditCode(mutated);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.message).not.toContain(mutated.slice(0, 8));
      }),
    );
  });

  it('property: never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ minLength: 18, maxLength: 18 })), (s) => {
        expect(typeof checkCreditCode(s).ok).toBe('boolean');
      }),
    );
  });
});

describe('creditCodeCheckChar', () => {
  it.each(VALID)('reproduces the check character of %s', (code) => {
    expect(creditCodeCheckChar(code.slice(0, 17))).toBe(code[17]);
  });

  it('throws with a rule code on malformed bodies', () => {
    expect(() => creditCodeCheckChar('9135')).toThrow(expect.objectContaining({ rule: 'GB32100_LENGTH' }));
    expect(() => creditCodeCheckChar('91350100I000100Y4')).toThrow(expect.objectContaining({ rule: 'GB32100_ALPHABET' }));
  });
});

describe('creditCodeRegion / provinceOfCreditCode', () => {
  it('reads positions 3-8 as the registering region', () => {
    expect(creditCodeRegion('91350100M000100Y43')).toBe('350100');
    expect(creditCodeRegion('9135052155323005XL')).toBe('350521');
    expect(creditCodeRegion('11100000000013338W')).toBe('100000');
  });

  it('derives the province code', () => {
    expect(provinceOfCreditCode('9135052155323005XL')).toBe('350000');
  });

  it('throws with the check rule on an invalid code, without echoing it', () => {
    expect(() => creditCodeRegion('91350100M000100Y44')).toThrow(expect.objectContaining({ rule: 'GB32100_CHECK_CHARACTER', message: expect.not.stringContaining('91350100') }));
  });
});
