import { z } from 'zod';
import { ValidationException } from './domain.exception';
import { assertStorableText, findUnstorableText, toStorableText } from './storable-text';
import { parseOrThrow } from './validation';

describe('findUnstorableText', () => {
  it('accepts ordinary text, including characters outside the BMP (paired surrogates)', () => {
    expect(findUnstorableText({ name: '张三', tags: ['𠀀 (U+20000)', '😀'], n: 1, ok: true, none: null })).toBeNull();
  });

  it('finds a NUL at any depth and names its path (array indices as segments)', () => {
    expect(findUnstorableText({ applicant: { name: 'Zhang\u0000San' } })).toEqual({
      field: 'applicant.name',
      rule: 'STORABLE_TEXT',
      message: 'applicant.name: must not contain the NUL character (U+0000)',
    });
    expect(findUnstorableText({ materials: [{ code: 'A' }, { note: 'x\u0000' }] })?.field).toBe('materials.1.note');
  });

  it('finds lone high and low surrogates, at the end, in the middle and reversed', () => {
    for (const bad of ['a\uD800', '\uD800b', '\uDC00', 'x\uDC00\uD800y']) {
      expect(findUnstorableText({ s: bad })?.message).toBe('s: must not contain an unpaired UTF-16 surrogate (U+D800-U+DFFF)');
    }
  });

  it('checks object keys too', () => {
    expect(findUnstorableText({ outputs: { 'a\u0000': 'v' } })).toMatchObject({ field: 'outputs', rule: 'STORABLE_TEXT' });
  });

  it('names the prefix, or (body) for a bare string', () => {
    expect(findUnstorableText('\u0000')?.field).toBe('(body)');
    expect(findUnstorableText({ name: '\u0000' }, 'items[2]')?.field).toBe('items[2].name');
  });

  it('reports the first problem in document order', () => {
    expect(findUnstorableText({ a: ['ok', 'x\u0000'], b: '\u0000' })?.field).toBe('a.1');
  });

  it('skips bytes and class instances, and survives very deep nesting and cycles', () => {
    expect(findUnstorableText({ body: Buffer.from([0, 0, 0]), at: new Date(0) })).toBeNull();
    let deep: unknown = 'bottom\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findUnstorableText(deep)?.rule).toBe('STORABLE_TEXT');
    const cyclic: Record<string, unknown> = { a: 'ok' };
    cyclic.self = cyclic;
    expect(findUnstorableText(cyclic)).toBeNull();
  });
});

describe('assertStorableText and parseOrThrow', () => {
  it('assertStorableText throws VALIDATION_FAILED with field and rule STORABLE_TEXT', () => {
    expect(() => assertStorableText({ a: '\uDFFF' })).toThrow(ValidationException);
    expect(() => assertStorableText({ a: '\uDFFF' })).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED', details: { field: 'a', rule: 'STORABLE_TEXT' } }));
  });

  it('every body parsed by parseOrThrow is checked, with the batch prefix', () => {
    const schema = z.object({ holder: z.object({ name: z.string() }), extra: z.record(z.string(), z.string()).optional() });
    expect(() => parseOrThrow(schema, { holder: { name: 'a\u0000b' } })).toThrow(expect.objectContaining({ details: { field: 'holder.name', rule: 'STORABLE_TEXT' } }));
    expect(() => parseOrThrow(schema, { holder: { name: 'ok' }, extra: { k: '\uD83D' } }, 'items[1]')).toThrow(
      expect.objectContaining({ details: { field: 'items[1].extra.k', rule: 'STORABLE_TEXT' } }),
    );
    expect(parseOrThrow(schema, { holder: { name: '张三😀' } })).toEqual({ holder: { name: '张三😀' } });
  });
});

describe('toStorableText', () => {
  it('replaces NUL and unpaired surrogates with U+FFFD and keeps the rest', () => {
    expect(toStorableText('a\u0000b\uD800c\uDC00😀')).toBe('a\uFFFDb\uFFFDc\uFFFD😀');
    expect(findUnstorableText(toStorableText('\u0000\uDBFF'))).toBeNull();
  });
});
