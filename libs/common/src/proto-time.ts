/**
 * The range of `google.protobuf.Timestamp` (timestamp.proto): 0001-01-01T00:00:00Z to
 * 9999-12-31T23:59:59.999999999Z, nanos 0 to 999,999,999. Every such time is a valid JavaScript
 * Date, and both databases store it (SQLite as datetime text, PostgreSQL as timestamptz).
 */
export const TIMESTAMP_RANGE = { minSeconds: -62_135_596_800, maxSeconds: 253_402_300_799, maxNanos: 999_999_999 } as const;

/** What a peer is told of a Timestamp out of that range. */
export const TIMESTAMP_RULE = `a google.protobuf.Timestamp: seconds ${TIMESTAMP_RANGE.minSeconds} to ${TIMESTAMP_RANGE.maxSeconds} (years 0001-9999), nanos 0 to ${TIMESTAMP_RANGE.maxNanos}`;

/**
 * The Date of a decoded Timestamp (ts-proto: seconds as a decimal string, nanos a number), to the
 * millisecond, or `undefined` when it lies outside the Timestamp's range. Without the check, a
 * peer's `seconds` of 9e12 made an Invalid Date, which SQLite stored as NULL and PostgreSQL refused.
 */
export function timestampDate(t: { seconds: string; nanos: number }): Date | undefined {
  const s = Number(t.seconds);
  const n = t.nanos;
  if (!Number.isSafeInteger(s) || s < TIMESTAMP_RANGE.minSeconds || s > TIMESTAMP_RANGE.maxSeconds) return undefined;
  if (!Number.isInteger(n) || n < 0 || n > TIMESTAMP_RANGE.maxNanos) return undefined;
  return new Date(s * 1000 + Math.floor(n / 1e6));
}
