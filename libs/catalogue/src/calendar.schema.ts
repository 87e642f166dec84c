import { z } from 'zod';
import { toCatalogueError } from './issue-path';

/** Whether `YYYY-MM-DD` names a real day of the proleptic Gregorian calendar. */
export function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

/** Day of the week of a `YYYY-MM-DD`, 0 = Sunday. */
export function weekdayOf(s: string): number {
  return new Date(`${s}T00:00:00Z`).getUTCDay();
}

const date = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD')
  .refine(isCalendarDate, { error: (iss) => `'${String(iss.input)}' is not a calendar date` });

/** A holiday file: official public holidays and 调休 make-up working days, judged in Beijing time. */
export const calendarSchema = z
  .strictObject({
    version: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z._-]{0,39}$/, 'must be 1-40 characters of [0-9A-Za-z._-]'),
    about: z.string().max(4000, 'must be at most 4000 characters').optional(),
    // Working days are a matter of the PRC civil calendar; any other zone would shift every deadline.
    timezone: z.literal('Asia/Shanghai', { error: "must be 'Asia/Shanghai'" }),
    holidays: z.array(date),
    workdays: z.array(date),
  })
  .superRefine((doc, ctx) => {
    const holidays = new Set<string>();
    doc.holidays.forEach((d, i) => {
      if (holidays.has(d)) ctx.addIssue({ code: 'custom', path: ['holidays', i], message: `duplicate date '${d}'` });
      holidays.add(d);
    });
    const workdays = new Set<string>();
    doc.workdays.forEach((d, i) => {
      if (workdays.has(d)) ctx.addIssue({ code: 'custom', path: ['workdays', i], message: `duplicate date '${d}'` });
      else if (holidays.has(d)) ctx.addIssue({ code: 'custom', path: ['workdays', i], message: `'${d}' is also listed as a holiday` });
      // 调休 only ever turns a weekend day into a working day; a weekday here is a typo.
      else if (isCalendarDate(d) && ![0, 6].includes(weekdayOf(d))) ctx.addIssue({ code: 'custom', path: ['workdays', i], message: `'${d}' is not a Saturday or Sunday` });
      workdays.add(d);
    });
  });

/** A validated holiday file. */
export type CalendarDocument = z.infer<typeof calendarSchema>;

/** Validates a holiday file; throws CatalogueError naming the field of the first problem. */
export function parseCalendar(json: unknown): CalendarDocument {
  const result = calendarSchema.safeParse(json);
  if (!result.success) throw toCatalogueError(result.error, json, '(calendar)');
  return result.data;
}
