import { Metadata } from '@grpc/grpc-js';
import { inspect } from 'node:util';
import { CorrelatedLine, acceptCorrelationId, correlated, correlationIdOfMetadata, isValidCorrelationId } from './correlation';
import { GatewayLogger } from './gateway-logger';

describe('correlation ids', () => {
  it('accepts 1–64 characters of [A-Za-z0-9._-] and replaces anything else with a new UUID', () => {
    for (const ok of ['a', 'hall.req-42_A', 'x'.repeat(64)]) expect(acceptCorrelationId(ok)).toBe(ok);
    for (const bad of ['', 'x'.repeat(65), 'has space', 'a/b', '中文', 'a\nb', ['a', 'b'], undefined, 42]) {
      expect(isValidCorrelationId(bad)).toBe(false);
      expect(acceptCorrelationId(bad)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });

  it('a correlated line carries its id explicitly: a suffix of the text, and a field of GatewayLogger’s JSON lines', () => {
    expect(correlated('plain', undefined)).toBe('plain');
    const line = correlated('accepted m-1', 'req-1');
    expect(String(line)).toBe('accepted m-1 (correlation id req-1)');
    expect(inspect(line)).toBe('accepted m-1 (correlation id req-1)');
    const written: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => written.push(String(chunk)) > 0);
    try {
      const json = new GatewayLogger('110000', 'json', ['log']);
      json.log(line, 'Inbox');
      json.log('no request here', 'Inbox');
      const pretty = new GatewayLogger('110000', 'pretty', ['log']);
      pretty.log(line, 'Inbox');
    } finally {
      spy.mockRestore();
    }
    const [first, second] = written.slice(0, 2).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toMatchObject({ message: 'accepted m-1 (correlation id req-1)', context: 'Inbox', gateway: '110000', correlationId: 'req-1' });
    expect(second.correlationId).toBeUndefined();
    // eslint-disable-next-line no-control-regex -- colours of the pretty format
    expect(written[2].replace(/\x1b\[[0-9;]*m/g, '')).toContain('[Inbox] accepted m-1 (correlation id req-1)');
    expect(line).toBeInstanceOf(CorrelatedLine);
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
