import { Metadata } from '@grpc/grpc-js';
import { acceptCorrelationId, correlationIdOfMetadata, currentCorrelationId, isValidCorrelationId, withCorrelationId } from './correlation';

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

  it("takes a peer's id from gRPC metadata when well-formed, and drops a malformed one rather than repairing it", () => {
    const md = (v?: string) => {
      const m = new Metadata();
      if (v !== undefined) m.set('x-correlation-id', v);
      return m;
    };
    expect(correlationIdOfMetadata(md('asker.req-7'))).toBe('asker.req-7');
    expect(correlationIdOfMetadata(md('has space'))).toBeUndefined();
    expect(correlationIdOfMetadata(md('x'.repeat(65)))).toBeUndefined();
    expect(correlationIdOfMetadata(md())).toBeUndefined();
    expect(correlationIdOfMetadata(undefined)).toBeUndefined();
  });
});
