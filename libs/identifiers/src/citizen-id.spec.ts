import fc from 'fast-check';
import { checkCitizenId, citizenIdCheckChar, maskCitizenId } from './citizen-id';

const VALID = '11010519491231002X';
const NOW = new Date('2025-06-01T00:00:00Z');

/** Builds a full citizen ID from a body so tests never hand-compute check characters. */
const withCheck = (body: string) => body + citizenIdCheckChar(body);

const digits = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n });
const birthDate = fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2024-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10).replace(/-/g, ''));
const validBody = fc.tuple(digits(6), birthDate, digits(3)).map(([a, b, s]) => a + b + s);

describe('checkCitizenId', () => {
  it('accepts the reference example', () => {
    expect(checkCitizenId(VALID, NOW)).toEqual({ ok: true, value: VALID });
  });

  it('accepts a lower-case x and normalises it to X', () => {
    expect(checkCitizenId('11010519491231002x', NOW)).toEqual({ ok: true, value: VALID });
  });

  it('defaults now to the wall clock', () => {
    expect(checkCitizenId(VALID).ok).toBe(true);
  });

  it.each([
    ['wrong check character', '110105194912310021', 'GB11643_CHECK_CHARACTER'],
    ['17 characters', '11010519491231002', 'GB11643_LENGTH'],
    ['19 characters', '11010519491231002X1', 'GB11643_LENGTH'],
    ['empty', '', 'GB11643_LENGTH'],
    ['15-digit legacy number', '110105491231002', 'GB11643_LENGTH'],
    ['letter in the body', '1101051949123100AX', 'GB11643_FORMAT'],
    ['X not in the last position', '11010519491231X021', 'GB11643_FORMAT'],
    ['other check letter', '11010519491231002Y', 'GB11643_FORMAT'],
    ['full-width digits', '１１０１０５１９４９１２３１００２X', 'GB11643_FORMAT'],
    ['surrounding whitespace', ' 1101051949123100X', 'GB11643_FORMAT'],
    ['31 February', withCheck('11010519490231002'), 'GB11643_BIRTH_DATE'],
    ['month 13', withCheck('11010519491331002'), 'GB11643_BIRTH_DATE'],
    ['day 00', withCheck('11010519491200002'), 'GB11643_BIRTH_DATE'],
    ['29 February in a non-leap century', withCheck('11010519000229002'), 'GB11643_BIRTH_DATE'],
    ['year before 1900', withCheck('11010518991231002'), 'GB11643_BIRTH_DATE'],
    ['birth after now', withCheck('11010520250602002'), 'GB11643_BIRTH_DATE'],
  ])('rejects %s', (_label, value, rule) => {
    const result = checkCitizenId(value, NOW);
    expect(result).toMatchObject({ ok: false, rule });
  });

  it('accepts 29 February in a leap year and a birth on the day of now', () => {
    expect(checkCitizenId(withCheck('11010520000229002'), NOW).ok).toBe(true);
    expect(checkCitizenId(withCheck('11010520250601002'), NOW).ok).toBe(true);
  });

  it('judges "today" in China Standard Time', () => {
    // 2025-06-01T20:00Z is already 2 June in Beijing.
    expect(checkCitizenId(withCheck('11010520250602002'), new Date('2025-06-01T20:00:00Z')).ok).toBe(true);
  });

  it('names the MOD 11-2 rule in the message and never echoes the input', () => {
    const result = checkCitizenId('110105194912310021', NOW);
    if (result.ok) throw new Error('expected failure');
    expect(result.message).toMatch(/MOD 11-2/);
    expect(result.message).not.toContain('110105');
  });

  it('property: the computed check character makes any valid body a valid ID', () => {
    fc.assert(
      fc.property(validBody, (body) => {
        expect(checkCitizenId(withCheck(body), NOW)).toEqual({ ok: true, value: withCheck(body) });
      }),
    );
  });

  it('property: any single-character substitution is rejected without echoing the input', () => {
    fc.assert(
      fc.property(validBody, fc.nat(17), fc.constantFrom(...'0123456789XYA'), (body, pos, ch) => {
        const id = withCheck(body);
        fc.pre(ch !== id[pos]);
        const mutated = id.slice(0, pos) + ch + id.slice(pos + 1);
        const result = checkCitizenId(mutated, NOW);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.message).not.toContain(mutated.slice(0, 17));
      }),
    );
  });

  it('property: any adjacent transposition of different characters is rejected', () => {
    fc.assert(
      fc.property(validBody, fc.nat(16), (body, pos) => {
        const id = withCheck(body);
        fc.pre(id[pos] !== id[pos + 1]);
        const swapped = id.slice(0, pos) + id[pos + 1] + id[pos] + id.slice(pos + 2);
        expect(checkCitizenId(swapped, NOW).ok).toBe(false);
      }),
    );
  });

  it('property: never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ minLength: 18, maxLength: 18 })), (s) => {
        const result = checkCitizenId(s, NOW);
        expect(typeof result.ok).toBe('boolean');
      }),
    );
  });

  it('does not throw on non-string input from untyped callers', () => {
    expect(checkCitizenId(undefined as unknown as string)).toMatchObject({ ok: false, rule: 'GB11643_FORMAT' });
  });
});

describe('citizenIdCheckChar', () => {
  it('reproduces the reference check character', () => {
    expect(citizenIdCheckChar('11010519491231002')).toBe('X');
  });

  it('throws with a rule code on a malformed body', () => {
    expect(() => citizenIdCheckChar('1101051949123100')).toThrow(expect.objectContaining({ rule: 'GB11643_FORMAT' }));
    expect(() => citizenIdCheckChar('1101051949123100A')).toThrow(expect.objectContaining({ rule: 'GB11643_FORMAT' }));
  });
});

describe('maskCitizenId', () => {
  it('keeps only 3 leading and 1 trailing characters', () => {
    expect(maskCitizenId(VALID)).toBe('110**************X');
    expect(maskCitizenId('11010519491231002x')).toBe('110**************X');
  });

  it('masks short and empty inputs entirely', () => {
    expect(maskCitizenId('')).toBe('');
    expect(maskCitizenId('1234')).toBe('****');
  });
});
