import { parseCopyHeader, parseCopyRow } from './copy-text';

describe('COPY text format (pg_restore --data-only output)', () => {
  it('reads the header of a COPY block, with or without a schema, quoted or not', () => {
    expect(parseCopyHeader('COPY tongban_110000.audit_events (seq, at, event) FROM stdin;')).toEqual({ table: 'audit_events', columns: ['seq', 'at', 'event'] });
    expect(parseCopyHeader('COPY public.migrations (id, "timestamp", name) FROM stdin;')).toEqual({ table: 'migrations', columns: ['id', 'timestamp', 'name'] });
    expect(parseCopyHeader('COPY "Odd"."outbox_messages" (peer) FROM stdin;')).toEqual({ table: 'outbox_messages', columns: ['peer'] });
    expect(parseCopyHeader("SET client_encoding = 'UTF8';")).toBeUndefined();
  });

  it('splits fields on tabs and decodes nulls and backslash escapes', () => {
    expect(parseCopyRow('1\t\\N\ta\\tb\\nc\\\\d\t\\101\\x42')).toEqual(['1', null, 'a\tb\nc\\d', 'AB']);
    expect(parseCopyRow('张三\t')).toEqual(['张三', '']);
    // A literal backslash followed by N is data, not null.
    expect(parseCopyRow('\\\\N')).toEqual(['\\N']);
  });
});
