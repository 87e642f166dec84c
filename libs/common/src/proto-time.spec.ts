import { TIMESTAMP_RANGE, timestampDate } from './proto-time';

describe('timestampDate: a google.protobuf.Timestamp to a Date, within the Timestamp range only', () => {
  it.each([
    [{ seconds: '0', nanos: 0 }, '1970-01-01T00:00:00.000Z'],
    [{ seconds: '1764979200', nanos: 999_999_999 }, '2025-12-06T00:00:00.999Z'],
    [{ seconds: String(TIMESTAMP_RANGE.minSeconds), nanos: 0 }, '0001-01-01T00:00:00.000Z'],
    [{ seconds: String(TIMESTAMP_RANGE.maxSeconds), nanos: TIMESTAMP_RANGE.maxNanos }, '9999-12-31T23:59:59.999Z'],
    [{ seconds: '-1', nanos: 500_000_000 }, '1969-12-31T23:59:59.500Z'],
  ])('%j is %s', (t, iso) => {
    expect(timestampDate(t)?.toISOString()).toBe(iso);
  });

  it.each([
    { seconds: String(TIMESTAMP_RANGE.maxSeconds + 1), nanos: 0 },
    { seconds: String(TIMESTAMP_RANGE.minSeconds - 1), nanos: 0 },
    { seconds: '9000000000000', nanos: 0 },
    { seconds: '9223372036854775807', nanos: 0 },
    { seconds: '-9223372036854775808', nanos: 0 },
    { seconds: '0', nanos: -1 },
    { seconds: '0', nanos: 1_000_000_000 },
    { seconds: '0', nanos: 0.5 },
    { seconds: 'NaN', nanos: 0 },
  ])('%j is outside it: undefined', (t) => {
    expect(timestampDate(t)).toBeUndefined();
  });
});
