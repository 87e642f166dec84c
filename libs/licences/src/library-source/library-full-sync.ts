import { Logger } from '@nestjs/common';
import { EntityManager, In } from 'typeorm';
import { DomainException, errorMessage } from '@tongban/common';
import { DataSource, lockForTransaction, runInTransaction } from '@tongban/persistence';
import { LicenceStatusChange, LicenceStatusListener, LicenceStatusService, LicenceStatusValue } from '../licence-status';
import { LicenceStatusEntity } from '../licence-status.entity';
import { LicenceEntity } from '../licence.entity';
import { FEED_LOCK, LIBRARY_FEED_CURSOR_ID, LibraryFeedCursorEntity } from './library-feed-cursor.entity';
import { LibraryMappingError, libraryPath, mapLibraryStatus, pick } from './library-mapping';
import { LibrarySource } from './library-source';

/** The actor of the status changes a full synchronisation makes. */
export const LIBRARY_SYNC_ACTOR = 'library-sync';
const REASON = 'initial synchronisation with the licence library';
const MAX_PAGES = 100_000;

/** Another replica finished the synchronisation first: this one stops, its current change rolled back. */
class SyncRaced extends Error {}

/** What one synchronisation did. */
export interface LibrarySyncResult {
  listed: number;
  changed: number;
  skipped: number;
  /** The feed position the cursor now holds; null when another replica finished first. */
  feedCursor: string | null;
}

/**
 * The initial full synchronisation with the licence library (docs/licence-library.md §5.2). The
 * change feed tells what changed after a cursor; a gateway that never followed it (first start with
 * the library, an empty cursor, an upgrade) would otherwise not know the library's statuses from
 * before. It reads the library's full listing page by page, records through LicenceStatusService
 * (actor `library-sync`) every status that differs from ours, then moves the cursor from where it was
 * to the feed position the listing's first page reported, and marks the sync done. The feed replays
 * from there: changes made during the listing are applied again, in order (no-ops when already so).
 * A replica that finds the sync finished by another one while it runs stops, its change rolled back.
 */
export class LibraryFullSync implements LicenceStatusListener {
  private readonly logger = new Logger('LicenceLibrarySync');
  /** The cursor the running sync started from; set only while one runs. */
  private from: string | null = null;

  constructor(
    private readonly source: LibrarySource,
    private readonly statuses: LicenceStatusService,
    private readonly ds: DataSource,
  ) {
    statuses.register(this);
  }

  /** Synchronises when the library has a listing and the cursor was never synchronised or is empty (lost); null otherwise. */
  async runIfNeeded(): Promise<LibrarySyncResult | null> {
    if (!this.source.mapping.list) return null;
    const row = await this.ds.getRepository(LibraryFeedCursorEntity).findOneByOrFail({ id: LIBRARY_FEED_CURSOR_ID });
    if (row.syncedAt && row.cursor !== '') return null;
    return this.run(row.cursor);
  }

  /** Status listener: a sync change commits only while the sync it belongs to is still unfinished. */
  async onLicenceStatusChange(change: LicenceStatusChange, em: EntityManager): Promise<void> {
    if (change.actor !== LIBRARY_SYNC_ACTOR || this.from === null) return;
    await lockForTransaction(em, FEED_LOCK, 'cursor');
    const row = await em.getRepository(LibraryFeedCursorEntity).findOneByOrFail({ id: LIBRARY_FEED_CURSOR_ID });
    if (row.cursor !== this.from || (row.syncedAt && row.cursor !== '')) throw new SyncRaced('another replica finished the synchronisation');
  }

  /** Lists the library from the start, applies what differs, then hands over to the feed at the listing's position. */
  async run(from: string): Promise<LibrarySyncResult> {
    const list = this.source.mapping.list!;
    const batch = this.source.options.feed.batch;
    const result: LibrarySyncResult = { listed: 0, changed: 0, skipped: 0, feedCursor: null };
    this.logger.log('synchronising statuses with the licence library (full listing)');
    this.from = from;
    try {
      let page = '';
      let feedCursor: string | undefined;
      for (let n = 0; n < MAX_PAGES; n++) {
        const body = await this.source.client.get(libraryPath(list.path, { cursor: page, limit: batch }));
        const records = pick(body, list.records);
        const next = pick(body, list.nextCursor);
        const position = pick(body, list.feedCursor);
        if (!Array.isArray(records) || !isCursor(position) || (next != null && !isCursor(next))) {
          throw new LibraryMappingError(`the listing answer has no ${list.records} array, no ${list.feedCursor} position, or a ${list.nextCursor} that is not a cursor`);
        }
        // The listing reflects at least the feed up to where it stood when the first page was read.
        if (String(position) === '') throw new LibraryMappingError(`the listing's ${list.feedCursor} is empty: a feed position must not be`);
        feedCursor ??= String(position);
        if (!(await this.applyPage(records, result))) return result;
        if (next == null || String(next) === '' || records.length === 0) break;
        page = String(next);
      }
      if (feedCursor === undefined) throw new LibraryMappingError('the listing answered no page');
      const moved = await runInTransaction(this.ds, async (tx) => {
        await lockForTransaction(tx, FEED_LOCK, 'cursor');
        const repo = tx.getRepository(LibraryFeedCursorEntity);
        const row = await repo.findOneByOrFail({ id: LIBRARY_FEED_CURSOR_ID });
        if (row.cursor !== from) return false;
        await repo.update({ id: LIBRARY_FEED_CURSOR_ID }, { cursor: feedCursor, syncedAt: new Date(), updatedAt: new Date() });
        return true;
      });
      if (moved) result.feedCursor = feedCursor;
      this.logger.log(`synchronised with the licence library: ${result.listed} listed, ${result.changed} changed, ${result.skipped} skipped${moved ? '' : ' (another replica finished first)'}`);
      return result;
    } finally {
      this.from = null;
    }
  }

  /** Applies one page; false when another replica finished the sync meanwhile. */
  private async applyPage(records: unknown[], result: LibrarySyncResult): Promise<boolean> {
    const listed = records.flatMap((raw) => {
      try {
        return [mapLibraryStatus(raw, this.source.mapping)];
      } catch (e) {
        // The message names our field and the rule, never a value.
        this.logger.warn(`a listed record was skipped: ${errorMessage(e)}`);
        result.skipped++;
        return [];
      }
    });
    result.listed += listed.length;
    const ids = listed.map((r) => r.licenceId);
    const ours = new Map<string, LicenceStatusValue>();
    if (ids.length) {
      for (const r of await this.ds.getRepository(LicenceEntity).find({ select: { licenceId: true, status: true }, where: { licenceId: In(ids) } })) ours.set(r.licenceId, r.status);
      for (const r of await this.ds.getRepository(LicenceStatusEntity).find({ select: { licenceId: true, status: true }, where: { licenceId: In(ids) } })) ours.set(r.licenceId, r.status);
    }
    for (const r of listed) {
      if ((ours.get(r.licenceId) ?? 'VALID') === r.status) continue;
      try {
        if (await this.statuses.change({ licenceId: r.licenceId, status: r.status, reason: REASON, source: 'library', actor: LIBRARY_SYNC_ACTOR })) result.changed++;
      } catch (e) {
        if (e instanceof SyncRaced) return false;
        // Refused for good (a licence id that does not check, un-revoking): audited by the status service, skipped.
        if (!(e instanceof DomainException) || e.code === 'UNAVAILABLE') throw e;
        this.logger.warn(`the library lists ${r.licenceId} as ${r.status}; refused (${e.details.rule ?? e.code}), skipped`);
        result.skipped++;
      } finally {
        this.source.lookup.forget(r.licenceId);
      }
    }
    return true;
  }
}

const isCursor = (v: unknown): v is string | number => typeof v === 'string' || typeof v === 'number';
