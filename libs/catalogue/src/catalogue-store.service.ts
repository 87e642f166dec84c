import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock, DomainException, RetriedReload, ValidationException, assertStorableText, beijingDate } from '@tongban/common';
import { isUniqueViolation, runInTransaction } from '@tongban/persistence';
import { CalendarVersionEntity } from './calendar-version.entity';
import { CatalogueError } from './catalogue-error';
import { CatalogueVersionEntity } from './catalogue-version.entity';
import { CATALOGUE_OPTIONS, CatalogueOptions } from './catalogue.options';
import { ServiceCatalogue } from './service-catalogue';
import { WorkingCalendar } from './working-calendar';

/** How far ahead the calendar should know the holidays: 12 months (366 days). */
const CALENDAR_HORIZON_MS = 366 * 86_400_000;

type VersionEntity = typeof CatalogueVersionEntity | typeof CalendarVersionEntity;

/** How one kind of versioned document is parsed, stored and named in errors. */
interface Kind<T extends { version: string; toJSON(): object }> {
  entity: VersionEntity;
  label: 'catalogue' | 'calendar';
  rule: 'CATALOGUE' | 'CALENDAR';
  fromJson(json: unknown): T;
  fromFile(path: string): T;
  defaultFile: keyof CatalogueOptions;
}

/** What is current, and which stored row it came from (none: the default file). */
interface Current<T> {
  value: T;
  stamp?: string;
}

const CATALOGUE: Kind<ServiceCatalogue> = {
  entity: CatalogueVersionEntity,
  label: 'catalogue',
  rule: 'CATALOGUE',
  fromJson: (json) => ServiceCatalogue.fromJson(json),
  fromFile: (path) => ServiceCatalogue.fromFile(path),
  defaultFile: 'catalogueFile',
};
const CALENDAR: Kind<WorkingCalendar> = {
  entity: CalendarVersionEntity,
  label: 'calendar',
  rule: 'CALENDAR',
  fromJson: (json) => WorkingCalendar.fromJson(json),
  fromFile: (path) => WorkingCalendar.fromFile(path),
  defaultFile: 'calendarFile',
};

/**
 * The current service catalogue and working-day calendar. Administrators load new versions into the
 * database; the newest by `loaded_at` is current on every replica, and the shipped files are used only
 * while the database holds none. Stored versions are immutable: a change is a new version.
 */
@Injectable()
export class CatalogueStore implements OnModuleDestroy {
  private catalogueNow?: Current<ServiceCatalogue>;
  private calendarNow?: Current<WorkingCalendar>;
  private readonly logger = new Logger('Catalogue');
  private readonly reloads = new RetriedReload('catalogue', () => this.loadNewest(), this.logger);
  /** The calendar version last checked for coverage (one warning per version). */
  private coverageChecked: string | undefined;

  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    @Inject(CATALOGUE_OPTIONS) private readonly defaults: CatalogueOptions,
  ) {}

  /** Loads the newest stored versions, or else the default files; throws if either cannot be used. */
  async init(): Promise<void> {
    await this.refresh();
  }

  /**
   * Re-reads the newest stored versions (replicas call this periodically); a no-op when unchanged.
   * A failed read is tried again by itself until one succeeds (RetriedReload); the caller is told.
   */
  async refresh(): Promise<void> {
    return this.reloads.run();
  }

  /** Stops a pending retry (shutdown). */
  onModuleDestroy(): void {
    this.reloads.stop();
  }

  private async loadNewest(): Promise<void> {
    this.catalogueNow = await this.reload(CATALOGUE, this.catalogueNow);
    this.calendarNow = await this.reload(CALENDAR, this.calendarNow);
    this.checkCoverage();
  }

  /** The current service catalogue. */
  catalogue(): ServiceCatalogue {
    if (!this.catalogueNow) throw new Error('CatalogueStore.init() has not completed');
    return this.catalogueNow.value;
  }

  /** The current working-day calendar. */
  calendar(): WorkingCalendar {
    if (!this.calendarNow) throw new Error('CatalogueStore.init() has not completed');
    return this.calendarNow.value;
  }

  /** Validates and stores a new catalogue version and makes it current (VALIDATION_FAILED / CONFLICT). */
  async loadCatalogue(json: unknown, actor: string): Promise<ServiceCatalogue> {
    this.catalogueNow = await this.load(CATALOGUE, json, actor);
    return this.catalogueNow.value;
  }

  /** Validates and stores a new calendar version and makes it current (VALIDATION_FAILED / CONFLICT). */
  async loadCalendar(json: unknown, actor: string): Promise<WorkingCalendar> {
    this.calendarNow = await this.load(CALENDAR, json, actor);
    this.checkCoverage();
    return this.calendarNow.value;
  }

  /**
   * Warns (once per calendar version) when the calendar in use does not know the holidays of the
   * next 12 months: deadlines there count holidays as working days and are marked provisional.
   */
  private checkCoverage(): void {
    const cal = this.calendarNow?.value;
    if (!cal || this.coverageChecked === cal.version) return;
    this.coverageChecked = cal.version;
    const until = cal.coveredUntil();
    const horizon = new Date(this.clock.now().getTime() + CALENDAR_HORIZON_MS);
    if (until && until >= horizon) return;
    const last = until ? beijingDate(new Date(until.getTime() - 1)) : null;
    this.logger.warn(
      `the working-day calendar (version ${cal.version}) ${last ? `knows public holidays only until ${last}` : 'lists no public holidays at all'}: deadlines computed past it count holidays as working days and are marked dueAtProvisional; load the State Council's holiday notice as a new calendar version (docs/operations.md §7.2)`,
    );
  }

  private async load<T extends { version: string; toJSON(): object }>(kind: Kind<T>, json: unknown, actor: string): Promise<Current<T>> {
    if (typeof actor !== 'string' || actor.length < 1 || actor.length > 64) {
      throw new ValidationException('actor', actor ? 'TOO_LONG' : 'REQUIRED', 'actor must be 1-64 characters');
    }
    assertStorableText(json);
    let value: T;
    try {
      value = kind.fromJson(json);
    } catch (e) {
      if (e instanceof CatalogueError) throw new ValidationException(e.path, kind.rule, e.message);
      throw e;
    }
    const conflict = () =>
      new DomainException('CONFLICT', `${kind.label} version '${value.version}' is already stored; stored versions never change, load the change as a new version`, {
        field: 'version',
      });
    try {
      const loadedAt = await runInTransaction(this.ds, async (em) => {
        const repo = em.getRepository(kind.entity);
        if (await repo.exists({ where: { version: value.version } })) throw conflict();
        const [newest] = await repo.find({ order: { loadedAt: 'DESC', version: 'DESC' }, take: 1 });
        // Strictly after the newest, so a replica with a lagging clock cannot load "into the past".
        const at = new Date(Math.max(this.clock.now().getTime(), newest ? newest.loadedAt.getTime() + 1 : 0));
        await repo.insert({ version: value.version, content: value.toJSON(), loadedAt: at, loadedBy: actor });
        return at;
      });
      return { value, stamp: stampOf(value.version, loadedAt) };
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict();
      throw e;
    }
  }

  private async reload<T extends { version: string; toJSON(): object }>(kind: Kind<T>, current: Current<T> | undefined): Promise<Current<T>> {
    const [newest] = await this.ds.getRepository(kind.entity).find({
      select: { version: true, loadedAt: true },
      order: { loadedAt: 'DESC', version: 'DESC' },
      take: 1,
    });
    if (!newest) return current ?? { value: kind.fromFile(this.defaults[kind.defaultFile]) };
    const stamp = stampOf(newest.version, newest.loadedAt);
    if (current?.stamp === stamp) return current;
    const row = await this.ds.getRepository(kind.entity).findOneByOrFail({ version: newest.version });
    try {
      return { value: kind.fromJson(row.content), stamp };
    } catch (e) {
      // A stored version the running code rejects (e.g. after an upgrade) must be fixed by an admin, not skipped.
      if (e instanceof CatalogueError) throw new CatalogueError(e.path, `${e.detail} (stored ${kind.label} version '${newest.version}')`);
      throw e;
    }
  }
}

function stampOf(version: string, loadedAt: Date): string {
  return `${version}@${loadedAt.getTime()}`;
}
