// China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact.
/** Milliseconds Beijing time (China Standard Time) is ahead of UTC. */
export const BEIJING_OFFSET_MS = 8 * 3_600_000;

/**
 * The Beijing calendar date (YYYY-MM-DD) of an instant: the date licence validity, deadlines and
 * collaboration ids are judged on. The one place the +8 h offset is applied to a date.
 */
export function beijingDate(instant: Date): string {
  const t = instant.getTime();
  if (Number.isNaN(t)) throw new RangeError('invalid date');
  return new Date(t + BEIJING_OFFSET_MS).toISOString().slice(0, 10);
}
