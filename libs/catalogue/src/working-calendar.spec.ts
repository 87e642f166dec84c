import { join } from 'node:path';
import fc from 'fast-check';
import { CatalogueError } from './catalogue-error';
import { WorkingCalendar } from './working-calendar';

const SHIPPED = join(__dirname, '..', '..', '..', 'data', 'calendar.json');
const cal = WorkingCalendar.fromFile(SHIPPED);

/** Noon Beijing time on a Beijing calendar date. */
const bj = (ymd: string, hm = '12:00') => new Date(`${ymd}T${hm}:00+08:00`);
/** The deadline instant for a Beijing date: 23:59:59.999 there. */
const endOf = (ymd: string) => new Date(`${ymd}T23:59:59.999+08:00`);

function failure(json: unknown): CatalogueError {
  try {
    WorkingCalendar.fromJson(json);
  } catch (e) {
    expect(e).toBeInstanceOf(CatalogueError);
    return e as CatalogueError;
  }
  throw new Error('expected the calendar to be rejected');
}

const base = () => ({ version: 't1', timezone: 'Asia/Shanghai', holidays: ['2025-10-01'], workdays: ['2025-09-28'] });
/** The same object, for a mutation that breaks its type on purpose (a missing or unknown field). */
const loose = (o: object) => o as Record<string, unknown>;

describe('shipped data/calendar.json', () => {
  it('loads and covers 2025 and 2026', () => {
    expect(cal.knownYears()).toEqual([2025, 2026]);
    expect(cal.covers(bj('2026-12-31'))).toBe(true);
    expect(cal.covers(bj('2027-01-04'))).toBe(false);
    expect(cal.about).toMatch(/State Council/);
  });

  it('knows the 2025 and 2026 holiday blocks and make-up days', () => {
    for (const d of ['2025-01-28', '2025-02-04', '2025-05-05', '2025-10-08', '2026-02-23', '2026-10-07']) expect(cal.isWorkingDay(bj(d))).toBe(false);
    for (const d of ['2025-01-26', '2025-02-08', '2025-04-27', '2026-01-04', '2026-02-28', '2026-05-09', '2026-09-20']) expect(cal.isWorkingDay(bj(d))).toBe(true);
  });
});

describe('coverage: where the calendar ends', () => {
  it('coveredUntil is 00:00 Beijing time on 1 January after the last year listed', () => {
    expect(cal.coveredUntil()).toEqual(new Date('2027-01-01T00:00:00+08:00'));
    expect(WorkingCalendar.fromJson({ ...base(), holidays: [], workdays: [] }).coveredUntil()).toBeNull();
  });

  it('coversSpan needs every Beijing year from the first instant to the second', () => {
    expect(cal.coversSpan(bj('2026-12-20'), endOf('2026-12-31'))).toBe(true);
    // 2026-12-31 16:00Z is already 2027 in Beijing.
    expect(cal.coversSpan(bj('2026-12-20'), new Date('2026-12-31T16:00:00Z'))).toBe(false);
    expect(cal.coversSpan(bj('2026-12-28'), cal.addWorkingDays(bj('2026-12-28'), 5))).toBe(false);
    expect(cal.coversSpan(bj('2024-12-30'), bj('2025-01-02'))).toBe(false);
    expect(cal.coversSpan(endOf('2026-01-05'), bj('2025-06-01'))).toBe(true); // order does not matter
  });
});

describe('WorkingCalendar', () => {
  it('skips ordinary weekends', () => {
    expect(cal.isWorkingDay(bj('2025-11-15'))).toBe(false); // Saturday
    expect(cal.isWorkingDay(bj('2025-11-16'))).toBe(false); // Sunday
    expect(cal.isWorkingDay(bj('2025-11-17'))).toBe(true);
    expect(cal.addWorkingDays(bj('2025-11-14'), 1)).toEqual(endOf('2025-11-17')); // Friday + 1 → Monday
    expect(cal.addWorkingDays(bj('2025-11-12'), 5)).toEqual(endOf('2025-11-19'));
  });

  it('jumps the 2025 National Day block (10-01..10-08) and counts the make-up days 09-28 and 10-11', () => {
    expect(cal.isWorkingDay(bj('2025-09-28'))).toBe(true); // Sunday, 调休
    expect(cal.isWorkingDay(bj('2025-10-11'))).toBe(true); // Saturday, 调休
    expect(cal.isWorkingDay(bj('2025-10-04'))).toBe(false);
    expect(cal.addWorkingDays(bj('2025-09-26'), 1)).toEqual(endOf('2025-09-28'));
    expect(cal.addWorkingDays(bj('2025-09-30'), 1)).toEqual(endOf('2025-10-09'));
    expect(cal.addWorkingDays(bj('2025-09-30'), 3)).toEqual(endOf('2025-10-11'));
    expect(cal.addWorkingDays(bj('2025-09-30'), 4)).toEqual(endOf('2025-10-13'));
    // The origin's 5-working-day de-registration limit for an approval received on 09-29.
    expect(cal.addWorkingDays(bj('2025-09-29'), 5)).toEqual(endOf('2025-10-13'));
  });

  it('judges dates on the Beijing calendar, not UTC', () => {
    const lateUtcThursday = new Date('2025-10-09T16:30:00Z'); // already Friday 10-10 00:30 in Beijing
    expect(lateUtcThursday.getUTCDay()).toBe(4);
    expect(cal.addWorkingDays(lateUtcThursday, 0)).toEqual(endOf('2025-10-10'));
    expect(cal.addWorkingDays(lateUtcThursday, 1)).toEqual(endOf('2025-10-11'));
    expect(cal.addWorkingDays(new Date('2025-10-09T15:30:00Z'), 1)).toEqual(endOf('2025-10-10'));
    expect(cal.isWorkingDay(new Date('2025-10-08T16:00:00Z'))).toBe(true); // 10-09 00:00 Beijing
    expect(cal.isWorkingDay(new Date('2025-10-08T15:59:59.999Z'))).toBe(false); // 10-08 23:59 Beijing
    expect(endOf('2025-10-10').toISOString()).toBe('2025-10-10T15:59:59.999Z');
  });

  it('n = 0 ends the same day when it is a working day, else the next working day', () => {
    expect(cal.addWorkingDays(bj('2025-10-09', '00:00'), 0)).toEqual(endOf('2025-10-09'));
    expect(cal.addWorkingDays(bj('2025-10-03'), 0)).toEqual(endOf('2025-10-09'));
    expect(cal.addWorkingDays(bj('2025-10-18'), 0)).toEqual(endOf('2025-10-20'));
    expect(cal.addWorkingDays(bj('2025-09-28'), 0)).toEqual(endOf('2025-09-28'));
  });

  it('counts working days between two instants: (from, to] on Beijing dates', () => {
    expect(cal.workingDaysBetween(bj('2025-09-30'), bj('2025-10-13'))).toBe(4);
    expect(cal.workingDaysBetween(bj('2025-10-13'), bj('2025-09-30'))).toBe(-4);
    expect(cal.workingDaysBetween(bj('2025-10-10', '08:00'), bj('2025-10-10', '18:00'))).toBe(0);
    expect(cal.workingDaysBetween(bj('2025-11-14'), bj('2025-11-17'))).toBe(1);
    expect(cal.workingDaysBetween(bj('2025-09-26'), bj('2025-10-10'))).toBe(5); // 09-28, 09-29, 09-30, 10-09, 10-10
    expect(cal.workingDaysBetween(bj('2025-01-01'), bj('2026-01-01'))).toBe(248);
  });

  it('refuses a negative, fractional or absurd number of days and an invalid date', () => {
    expect(() => cal.addWorkingDays(bj('2025-10-10'), -1)).toThrow(RangeError);
    expect(() => cal.addWorkingDays(bj('2025-10-10'), 1.5)).toThrow(RangeError);
    expect(() => cal.addWorkingDays(bj('2025-10-10'), 1e9)).toThrow(RangeError);
    expect(() => cal.isWorkingDay(new Date('nope'))).toThrow(RangeError);
  });

  it('addWorkingDays and workingDaysBetween agree, and deadlines end at Beijing midnight on a working day', () => {
    const from = fc.date({ min: new Date('2024-12-01T00:00:00Z'), max: new Date('2026-12-31T00:00:00Z'), noInvalidDate: true });
    fc.assert(
      fc.property(from, fc.integer({ min: 1, max: 60 }), (start, n) => {
        const deadline = cal.addWorkingDays(start, n);
        expect(cal.workingDaysBetween(start, deadline)).toBe(n);
        expect(cal.isWorkingDay(deadline)).toBe(true);
        expect(cal.isWorkingDay(new Date(deadline.getTime() + 1))).toBe(cal.isWorkingDay(new Date(deadline.getTime() + 86_400_000)));
        expect((deadline.getTime() + 1 + 8 * 3_600_000) % 86_400_000).toBe(0);
        expect(cal.workingDaysBetween(start, new Date(deadline.getTime() - 86_400_000))).toBe(n - 1);
      }),
    );
  });

  it('counts the same as walking day by day', () => {
    const DAY = 86_400_000;
    const bjDay = (d: Date) => Math.floor((d.getTime() + 8 * 3_600_000) / DAY);
    const instant = fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2027, 11, 31) }).map((t) => new Date(t));
    fc.assert(
      fc.property(instant, instant, (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        let walked = 0;
        for (let day = bjDay(lo) + 1; day <= bjDay(hi); day++) if (cal.isWorkingDay(new Date(day * DAY))) walked++;
        expect(cal.workingDaysBetween(lo, hi)).toBe(walked);
        expect(cal.workingDaysBetween(hi, lo)).toBe(walked === 0 ? 0 : -walked);
      }),
      { numRuns: 200 },
    );
  });
});

describe('WorkingCalendar.fromJson validation', () => {
  it('accepts a minimal file', () => {
    expect(WorkingCalendar.fromJson(base()).isWorkingDay(bj('2025-09-28'))).toBe(true);
  });

  it.each<[string, (c: ReturnType<typeof base>) => unknown, string]>([
    ['a different time zone', (c) => (c.timezone = 'UTC'), "timezone: must be 'Asia/Shanghai'"],
    ['an impossible date', (c) => c.holidays.push('2025-02-30'), "holidays[1]: '2025-02-30' is not a calendar date"],
    ['a badly written date', (c) => c.workdays.push('2025/10/11'), 'workdays[1]: must be YYYY-MM-DD'],
    ['a duplicate holiday', (c) => c.holidays.push('2025-10-01'), "holidays[1]: duplicate date '2025-10-01'"],
    ['a make-up day that is also a holiday', (c) => c.workdays.push('2025-10-01'), "workdays[1]: '2025-10-01' is also listed as a holiday"],
    ['a make-up day on a weekday', (c) => c.workdays.push('2025-10-10'), "workdays[1]: '2025-10-10' is not a Saturday or Sunday"],
    ['a missing list', (c) => delete loose(c).workdays, 'workdays: Invalid input: expected array, received undefined'],
    ['an unknown field', (c) => (loose(c).holiday = []), 'holiday: Unrecognized key: "holiday"'],
  ])('rejects %s, naming the field', (_label, mutate, message) => {
    const c = base();
    mutate(c);
    expect(failure(c).message).toBe(message);
  });

  it('throws only CatalogueError for arbitrary input', () => {
    fc.assert(fc.property(fc.jsonValue(), (json) => expect(() => WorkingCalendar.fromJson(json)).toThrow(CatalogueError)));
  });
});
