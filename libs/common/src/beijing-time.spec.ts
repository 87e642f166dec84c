import { beijingDate } from './beijing-time';

describe('beijingDate', () => {
  it('turns at midnight Beijing time (16:00 UTC the day before), whatever the local time zone', () => {
    expect(beijingDate(new Date('2026-12-09T15:59:59.999Z'))).toBe('2026-12-09');
    expect(beijingDate(new Date('2026-12-09T16:00:00.000Z'))).toBe('2026-12-10');
    expect(beijingDate(new Date('2026-12-31T16:00:00.000Z'))).toBe('2027-01-01');
  });

  it('refuses an invalid date', () => {
    expect(() => beijingDate(new Date('nonsense'))).toThrow(RangeError);
  });
});
