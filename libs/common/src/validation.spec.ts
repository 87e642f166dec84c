import { z } from 'zod';
import { DomainException, ValidationException } from './domain.exception';
import { parseOrThrow } from './validation';

const schema = z
  .object({
    holder: z
      .object({
        name: z.string().max(5).optional(),
        idNumber: z.string(),
      })
      .strict(),
    tags: z.array(z.string().max(3)).max(2).default([]),
    kind: z.enum(['A', 'B']).default('A'),
    code: z
      .string()
      .regex(/^\d{6}$/)
      .optional(),
    secret: z
      .string()
      .refine((v) => v !== 'password', { message: 'must not be "password"', params: { rule: 'WEAK_SECRET' } })
      .optional(),
  })
  .strict();

function failure(input: unknown, prefix?: string, s: z.ZodType = schema): ValidationException {
  try {
    parseOrThrow(s, input, prefix);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationException);
    return e as ValidationException;
  }
  throw new Error('expected parseOrThrow to throw');
}

describe('parseOrThrow', () => {
  it('returns the parsed data, with defaults applied', () => {
    expect(parseOrThrow(schema, { holder: { idNumber: '1' } })).toEqual({ holder: { idNumber: '1' }, tags: [], kind: 'A' });
  });

  it('names a missing nested field with its dotted path and rule REQUIRED', () => {
    const e = failure({ holder: {} });
    expect(e.details).toEqual({ field: 'holder.idNumber', rule: 'REQUIRED' });
    expect(e.code).toBe('VALIDATION_FAILED');
    expect(e.message.startsWith('holder.idNumber: ')).toBe(true);
    expect(e).toBeInstanceOf(DomainException);
  });

  it('prefixes the field with items[i] for batch items', () => {
    const e = failure({ holder: {} }, 'items[3]');
    expect(e.details).toEqual({ field: 'items[3].holder.idNumber', rule: 'REQUIRED' });
    expect(e.message).toMatch(/^items\[3\]\.holder\.idNumber: /);
  });

  it('uses the prefix alone for a problem with the whole item, and (body) without one', () => {
    expect(failure('not an object', 'items[0]').details).toEqual({ field: 'items[0]', rule: 'TYPE' });
    expect(failure(null).details).toEqual({ field: '(body)', rule: 'TYPE' });
    expect(failure(undefined).details).toEqual({ field: '(body)', rule: 'REQUIRED' });
  });

  it('reports a value of the wrong type as TYPE', () => {
    expect(failure({ holder: { idNumber: 12 } }).details).toEqual({ field: 'holder.idNumber', rule: 'TYPE' });
  });

  it('reports TOO_LONG, with array indexes in the path', () => {
    expect(failure({ holder: { idNumber: '1', name: 'abcdef' } }).details).toEqual({ field: 'holder.name', rule: 'TOO_LONG' });
    expect(failure({ holder: { idNumber: '1' }, tags: ['ok', 'long'] }).details).toEqual({ field: 'tags.1', rule: 'TOO_LONG' });
    expect(failure({ holder: { idNumber: '1' }, tags: ['a', 'b', 'c'] }).details).toEqual({ field: 'tags', rule: 'TOO_LONG' });
  });

  it('reports TOO_SHORT, FORMAT, ONE_OF and UNKNOWN_FIELD', () => {
    expect(failure({ holder: { idNumber: '1' }, code: '12345' }).details).toEqual({ field: 'code', rule: 'FORMAT' });
    expect(failure({ holder: { idNumber: '1' }, kind: 'C' }).details).toEqual({ field: 'kind', rule: 'ONE_OF' });
    expect(failure({ holder: { idNumber: '1' }, extra: 1 }).details).toEqual({ field: '(body)', rule: 'UNKNOWN_FIELD' });
    expect(failure({ holder: { idNumber: '1', extra: 1 } }).details).toEqual({ field: 'holder', rule: 'UNKNOWN_FIELD' });
    expect(failure('', undefined, z.string().min(1)).details).toEqual({ field: '(body)', rule: 'TOO_SHORT' });
  });

  it('uses params.rule of a custom refinement as the rule', () => {
    const e = failure({ holder: { idNumber: '1' }, secret: 'password' }, 'items[7]');
    expect(e.details).toEqual({ field: 'items[7].secret', rule: 'WEAK_SECRET' });
    expect(e.message).toBe('items[7].secret: must not be "password"');
  });

  it('reports INVALID for a custom refinement without a rule', () => {
    const s = z.object({ n: z.number().refine((n) => n % 2 === 0, 'must be even') });
    expect(failure({ n: 3 }, undefined, s).details).toEqual({ field: 'n', rule: 'INVALID' });
  });

  it('reports only the first problem, in schema order', () => {
    const e = failure({ holder: { idNumber: 1, name: 'toolong' }, kind: 'Z' });
    expect(e.details).toEqual({ field: 'holder.name', rule: 'TOO_LONG' });
  });

  it('a missing enum field is REQUIRED, not ONE_OF', () => {
    const schema = z.object({ status: z.enum(['ACTIVE', 'RETIRED']) });
    expect(() => parseOrThrow(schema, {})).toThrow(expect.objectContaining({ details: { field: 'status', rule: 'REQUIRED' } }));
    expect(() => parseOrThrow(schema, { status: 'NOPE' })).toThrow(expect.objectContaining({ details: { field: 'status', rule: 'ONE_OF' } }));
  });
});
