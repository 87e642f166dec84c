import { acceptCorrelationId, currentCorrelationId, isValidCorrelationId, withCorrelationId } from './correlation';

describe('correlation ids', () => {
  it('accepts 1–64 characters of [A-Za-z0-9._-] and replaces anything else with a new UUID', () => {
    for (const ok of ['a', 'hall.req-42_A', 'x'.repeat(64)]) expect(acceptCorrelationId(ok)).toBe(ok);
    for (const bad of ['', 'x'.repeat(65), 'has space', 'a/b', '中文', 'a\nb', ['a', 'b'], undefined, 42]) {
      expect(isValidCorrelationId(bad)).toBe(false);
      expect(acceptCorrelationId(bad)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });

  it('keeps the current id across awaits, and none outside', async () => {
    expect(currentCorrelationId()).toBeUndefined();
    const seen = await withCorrelationId('req-1', async () => {
      await new Promise((r) => setTimeout(r, 5));
      return currentCorrelationId();
    });
    expect(seen).toBe('req-1');
    expect(withCorrelationId(undefined, () => currentCorrelationId())).toBeUndefined();
  });
});
