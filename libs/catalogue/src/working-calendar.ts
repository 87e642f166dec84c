import { readFileSync } from 'node:fs';
import { BEIJING_OFFSET_MS } from '@tongban/common';
import { CalendarDocument, parseCalendar } from './calendar.schema';
import { CatalogueError } from './catalogue-error';

const DAY_MS = 86_400_000;
// Far beyond any statutory time limit; stops a bad argument from spinning the event loop.
const MAX_WORKING_DAYS = 10_000;

/**
 * Working days (工作日) on the Beijing calendar: Monday to Friday, minus public holidays, plus the
 * 调休 weekend days the State Council declares working days. Deadlines end at 23:59:59.999 Beijing time.
 */
export class WorkingCalendar {
  readonly version: string;
  readonly about?: string;
  private readonly holidays: ReadonlySet<number>;
  private readonly workdays: ReadonlySet<number>;
  private readonly years: readonly number[];

  private constructor(private readonly doc: CalendarDocument) {
    Object.freeze(doc.holidays);
    Object.freeze(doc.workdays);
    Object.freeze(doc);
    this.version = doc.version;
    this.about = doc.about;
    this.holidays = new Set(doc.holidays.map(dayOfIso));
    this.workdays = new Set(doc.workdays.map(dayOfIso));
    this.years = [...new Set([...doc.holidays, ...doc.workdays].map((d) => Number(d.slice(0, 4))))].sort((a, b) => a - b);
  }

  /** Validates a parsed holiday file; throws CatalogueError naming the field. */
  static fromJson(json: unknown): WorkingCalendar {
    return new WorkingCalendar(parseCalendar(json));
  }

  /** Reads and validates a holiday file. */
  static fromFile(path: string): WorkingCalendar {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new CatalogueError(path, `cannot be read as JSON: ${(e as Error).message}`);
    }
    try {
      return WorkingCalendar.fromJson(json);
    } catch (e) {
      if (e instanceof CatalogueError) throw new CatalogueError(e.path, `${e.detail} (in ${path})`);
      throw e;
    }
  }

  /** Whether the Beijing calendar day containing `date` is a working day. */
  isWorkingDay(date: Date): boolean {
    return this.isWorking(beijingDay(date));
  }

  /**
   * End (23:59:59.999 Beijing) of the n-th working day after `from`'s Beijing date. n = 0 gives the end
   * of that same day if it is a working day, else of the next working day.
   */
  addWorkingDays(from: Date, n: number): Date {
    if (!Number.isInteger(n) || n < 0 || n > MAX_WORKING_DAYS) throw new RangeError(`working days must be an integer 0..${MAX_WORKING_DAYS}, got ${n}`);
    let day = beijingDay(from);
    if (n === 0) {
      while (!this.isWorking(day)) day++;
      return endOfDay(day);
    }
    for (let counted = 0; counted < n;) if (this.isWorking(++day)) counted++;
    return endOfDay(day);
  }

  /**
   * Working days d with from's date < d ≤ to's date (negative when `to` is earlier), so that
   * `workingDaysBetween(x, addWorkingDays(x, n)) === n` for n ≥ 1.
   */
  workingDaysBetween(from: Date, to: Date): number {
    const a = beijingDay(from);
    const b = beijingDay(to);
    // `0 - n` rather than `-n`, so that an empty span is 0 and never -0.
    return a <= b ? this.countWorking(a, b) : 0 - this.countWorking(b, a);
  }

  /** Years this file lists holidays or make-up days for; outside them only weekends are known. */
  knownYears(): number[] {
    return [...this.years];
  }

  /** Whether the Beijing year of `date` is one this file knows the holidays of. */
  covers(date: Date): boolean {
    return this.years.includes(yearOfDay(beijingDay(date)));
  }

  /**
   * Whether every Beijing year from `from`'s to `to`'s is one this file knows: only then is a
   * working-day count between them certain. Otherwise holidays of the missing years are unknown
   * and the count treats them as working days (a deadline computed so is provisional).
   */
  coversSpan(from: Date, to: Date): boolean {
    const [a, b] = [yearOfDay(beijingDay(from)), yearOfDay(beijingDay(to))].sort((x, y) => x - y);
    for (let y = a; y <= b; y++) if (!this.years.includes(y)) return false;
    return true;
  }

  /**
   * The first instant this file no longer covers: 00:00 Beijing time on 1 January after the last
   * year it lists holidays for. Null when it lists no year at all.
   */
  coveredUntil(): Date | null {
    if (!this.years.length) return null;
    const last = this.years[this.years.length - 1];
    return new Date(Date.UTC(last + 1, 0, 1) - BEIJING_OFFSET_MS);
  }

  /** The validated holiday file. */
  toJSON(): CalendarDocument {
    return this.doc;
  }

  private isWorking(day: number): boolean {
    if (this.workdays.has(day)) return true;
    if (this.holidays.has(day)) return false;
    const wd = weekdayOfDay(day);
    return wd !== 0 && wd !== 6;
  }

  // Counts (a, b] without walking every day: whole weeks by arithmetic, then the listed exceptions.
  private countWorking(a: number, b: number): number {
    const span = b - a;
    let count = Math.floor(span / 7) * 5;
    for (let d = a + Math.floor(span / 7) * 7 + 1; d <= b; d++) {
      const wd = weekdayOfDay(d);
      if (wd !== 0 && wd !== 6) count++;
    }
    for (const h of this.holidays) if (h > a && h <= b && !isWeekend(h)) count--;
    for (const w of this.workdays) if (w > a && w <= b && isWeekend(w)) count++;
    return count;
  }
}

function beijingDay(date: Date): number {
  const t = date.getTime();
  if (Number.isNaN(t)) throw new RangeError('invalid date');
  return Math.floor((t + BEIJING_OFFSET_MS) / DAY_MS);
}

function endOfDay(day: number): Date {
  return new Date((day + 1) * DAY_MS - BEIJING_OFFSET_MS - 1);
}

function dayOfIso(iso: string): number {
  return Date.parse(`${iso}T00:00:00Z`) / DAY_MS;
}

function yearOfDay(day: number): number {
  return new Date(day * DAY_MS).getUTCFullYear();
}

function weekdayOfDay(day: number): number {
  return new Date(day * DAY_MS).getUTCDay();
}

function isWeekend(day: number): boolean {
  const wd = weekdayOfDay(day);
  return wd === 0 || wd === 6;
}
