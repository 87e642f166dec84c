import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock, DomainException, ValidationException } from '@tongban/common';
import { Catalogue1764300000000 } from '../../persistence/src/migrations/1764300000000-catalogue';
import { DatabaseTarget, buildDataSource, openDatabase } from '../../persistence/src';
import { describeEachDatabase } from '../../testkit/src/databases';
import type { CalendarDocument } from './calendar.schema';
import type { CatalogueDocument } from './catalogue.schema';
import { CalendarVersionEntity } from './calendar-version.entity';
import { CatalogueVersionEntity } from './catalogue-version.entity';
import { CatalogueStore } from './catalogue-store.service';

class TestClock extends Clock {
  constructor(private t = Date.UTC(2025, 9, 9, 2, 0, 0)) {
    super();
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

const DATA = join(__dirname, '..', '..', '..', 'data');
const defaults = { catalogueFile: join(DATA, 'catalogue.json'), calendarFile: join(DATA, 'calendar.json') };
const shippedCatalogue = () => JSON.parse(readFileSync(defaults.catalogueFile, 'utf8')) as CatalogueDocument;
const shippedCalendar = () => JSON.parse(readFileSync(defaults.calendarFile, 'utf8')) as CalendarDocument;
const ADMIN = 'admin:alice';

/** The shipped catalogue under a new version, with the ORIGIN de-registration limit changed to tell it apart. */
function catalogueV(version: string, deregisterDays = 4): CatalogueDocument {
  const doc = shippedCatalogue();
  doc.version = version;
  doc.items.find((i) => i.code === 'HUKOU_SPOUSE')!.steps[1].timeLimitWorkingDays = deregisterDays;
  return doc;
}

async function caught(p: Promise<unknown>): Promise<DomainException> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DomainException);
  return e as DomainException;
}

describeEachDatabase('CatalogueStore', (fresh, kind) => {
  const open: DataSource[] = [];
  let clock: TestClock;
  let target: DatabaseTarget;
  let ds: DataSource;
  let store: CatalogueStore;

  const connect = async (t: DatabaseTarget) => {
    const d = buildDataSource(t, [CatalogueVersionEntity, CalendarVersionEntity]);
    open.push(d);
    await openDatabase(d);
    // Until the migration is listed in MIGRATIONS, apply it here; afterwards this is a no-op.
    const qr = d.createQueryRunner();
    if (!(await qr.hasTable('catalogue_versions'))) await new Catalogue1764300000000().up(qr);
    await qr.release();
    return d;
  };
  const newStore = async (d: DataSource, c: Clock = clock) => {
    const s = new CatalogueStore(d, c, defaults);
    await s.init();
    return s;
  };
  const rows = async (d = ds) => ({
    catalogues: (await d.getRepository(CatalogueVersionEntity).find({ order: { version: 'ASC' } })).map((r) => ({ ...r })),
    calendars: (await d.getRepository(CalendarVersionEntity).find({ order: { version: 'ASC' } })).map((r) => ({ ...r })),
  });

  beforeEach(async () => {
    clock = new TestClock();
    target = fresh();
    ds = await connect(target);
    store = await newStore(ds);
  });

  afterEach(async () => {
    for (const d of open.splice(0)) if (d.isInitialized) await d.destroy();
  });

  it('warns at start, and at each new version, when the calendar does not know the holidays of the next 12 months', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      // The shipped calendar ends with 2026: on 2025-10-09 the next 12 months are covered, on 2026-03-01 they are not.
      await newStore(ds, new TestClock(Date.UTC(2025, 9, 9)));
      expect(warn).not.toHaveBeenCalled();
      const late = new TestClock(Date.UTC(2026, 2, 1));
      const s = await newStore(ds, late);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toMatch(/working-day calendar \(version [^)]+\) knows public holidays only until 2026-12-31: deadlines computed past it .* dueAtProvisional/);
      await s.refresh(); // the same version: not again
      expect(warn).toHaveBeenCalledTimes(1);
      const only2025 = { ...shippedCalendar(), version: 'only-2025' } as { holidays: string[]; workdays: string[] };
      only2025.holidays = only2025.holidays.filter((d) => d.startsWith('2025'));
      only2025.workdays = only2025.workdays.filter((d) => d.startsWith('2025'));
      await s.loadCalendar(only2025, 'admin');
      expect(warn).toHaveBeenCalledTimes(2);
      expect(warn.mock.calls[1][0]).toMatch(/version only-2025\) knows public holidays only until 2025-12-31/);
      expect(s.calendar().coveredUntil()).toEqual(new Date('2026-01-01T00:00:00+08:00'));
    } finally {
      warn.mockRestore();
    }
  });

  it('starts from the shipped files when the database holds no version', async () => {
    expect(store.catalogue().version).toBe('2026.11-1');
    expect(store.catalogue().item('HUKOU_SPOUSE')!.steps[1].timeLimitWorkingDays).toBe(5);
    expect(store.calendar().version).toBe(shippedCalendar().version);
    expect(store.calendar().isWorkingDay(new Date('2025-10-11T04:00:00Z'))).toBe(true);
    expect(await rows()).toEqual({ catalogues: [], calendars: [] });
  });

  it('stores a new catalogue version, makes it current and records who loaded it when', async () => {
    const loaded = await store.loadCatalogue(catalogueV('2026.12-1'), ADMIN);
    expect(loaded.version).toBe('2026.12-1');
    expect(store.catalogue()).toBe(loaded);
    expect(store.catalogue().item('HUKOU_SPOUSE')!.steps[1].timeLimitWorkingDays).toBe(4);
    const [row] = (await rows()).catalogues;
    expect(row).toMatchObject({ version: '2026.12-1', loadedBy: ADMIN });
    expect(row.loadedAt.getTime()).toBe(clock.now().getTime());
    expect(row.content).toEqual(catalogueV('2026.12-1'));

    // A restart picks the stored version over the shipped file.
    expect((await newStore(ds)).catalogue().version).toBe('2026.12-1');
  });

  it('refuses a version that is already stored, leaving everything unchanged', async () => {
    await store.loadCatalogue(catalogueV('2026.12-1'), ADMIN);
    const before = await rows();
    clock.advance(60_000);
    const e = await caught(store.loadCatalogue(catalogueV('2026.12-1', 3), 'admin:bob'));
    expect(e.code).toBe('CONFLICT');
    expect(e.message).toMatch(/catalogue version '2026\.12-1' is already stored/);
    expect(await rows()).toEqual(before);
    expect(store.catalogue().item('HUKOU_SPOUSE')!.steps[1].timeLimitWorkingDays).toBe(4);
  });

  it('refuses an invalid catalogue with a ValidationException naming item and field, leaving everything unchanged', async () => {
    const bad = catalogueV('2026.12-1');
    bad.items.find((i) => i.code === 'HUKOU_GRADUATE')!.steps[1].inputs = ['migration_certificate_no'];
    const e = await caught(store.loadCatalogue(bad, ADMIN));
    expect(e).toBeInstanceOf(ValidationException);
    expect(e.details).toEqual({ field: 'items[HUKOU_GRADUATE].steps[1].inputs[0]', rule: 'CATALOGUE' });
    expect(e.message).toBe("items[HUKOU_GRADUATE].steps[1].inputs[0]: 'migration_certificate_no' is not an output of an earlier step");
    expect(await rows()).toEqual({ catalogues: [], calendars: [] });
    expect(store.catalogue().version).toBe('2026.11-1');

    const noActor = await caught(store.loadCatalogue(catalogueV('2026.12-2'), ''));
    expect(noActor.details).toEqual({ field: 'actor', rule: 'REQUIRED' });
    expect(await rows()).toEqual({ catalogues: [], calendars: [] });
  });

  it('loads calendars the same way: new → current, duplicate → CONFLICT, invalid → VALIDATION_FAILED', async () => {
    const next = { ...shippedCalendar(), version: '2027.1', holidays: [...shippedCalendar().holidays, '2027-01-01'] };
    const cal = await store.loadCalendar(next, ADMIN);
    expect(store.calendar()).toBe(cal);
    expect(cal.isWorkingDay(new Date('2027-01-01T04:00:00Z'))).toBe(false);
    const before = await rows();
    expect(before.calendars.map((r) => [r.version, r.loadedBy])).toEqual([['2027.1', ADMIN]]);

    expect((await caught(store.loadCalendar({ ...next, holidays: [] }, ADMIN))).code).toBe('CONFLICT');
    const bad = await caught(store.loadCalendar({ ...next, version: '2027.2', workdays: ['2027-01-05'] }, ADMIN));
    expect(bad).toBeInstanceOf(ValidationException);
    expect(bad.details).toEqual({ field: 'workdays[0]', rule: 'CALENDAR' });
    expect(await rows()).toEqual(before);
    expect(store.calendar().version).toBe('2027.1');
    expect(store.catalogue().version).toBe('2026.11-1');
  });

  it('a second store on the same database sees a new version after refresh()', async () => {
    await store.loadCatalogue(catalogueV('2026.12-1'), ADMIN);
    const replica = await newStore(await connect(target));
    expect(replica.catalogue().version).toBe('2026.12-1');

    clock.advance(1000);
    await store.loadCatalogue(catalogueV('2026.12-2', 3), ADMIN);
    await store.loadCalendar({ ...shippedCalendar(), version: '2027.1' }, ADMIN);
    expect(replica.catalogue().version).toBe('2026.12-1');
    const same = replica.catalogue();
    await replica.refresh();
    expect(replica.catalogue().version).toBe('2026.12-2');
    expect(replica.catalogue()).not.toBe(same);
    expect(replica.catalogue().item('HUKOU_SPOUSE')!.steps[1].timeLimitWorkingDays).toBe(3);
    expect(replica.calendar().version).toBe('2027.1');

    // Refreshing without a change keeps the same snapshot.
    const current = replica.catalogue();
    await replica.refresh();
    expect(replica.catalogue()).toBe(current);
  });

  it('orders versions by load, even when a replica clock lags behind', async () => {
    await store.loadCatalogue(catalogueV('2026.12-1'), ADMIN);
    const lagging = new TestClock(clock.now().getTime() - 3_600_000);
    const replica = await newStore(await connect(target), lagging);
    await replica.loadCatalogue(catalogueV('2026.12-0', 3), 'admin:bob');
    const row = await ds.getRepository(CatalogueVersionEntity).findOneByOrFail({ version: '2026.12-0' });
    expect(row.loadedAt.getTime()).toBe(clock.now().getTime() + 1);
    await store.refresh();
    expect(store.catalogue().version).toBe('2026.12-0');
  });

  it('lets exactly one of two concurrent loads of the same version win', async () => {
    const replica = await newStore(kind === 'postgres' ? await connect(target) : ds);
    const results = await Promise.allSettled([store.loadCatalogue(catalogueV('2026.12-1'), ADMIN), replica.loadCatalogue(catalogueV('2026.12-1', 3), 'admin:bob')]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
    expect((failed.reason as DomainException).code).toBe('CONFLICT');
    expect((await rows()).catalogues).toHaveLength(1);
  });
});
