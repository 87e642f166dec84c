import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { DomainException, errorMessage } from '@tongban/common';
import { DataSource, lockForTransaction, runInTransaction } from '@tongban/persistence';
import { LicenceStatusChange, LicenceStatusListener, LicenceStatusService } from '../licence-status';
import { FEED_LOCK, LIBRARY_FEED_CURSOR_ID, LibraryFeedCursorEntity } from './library-feed-cursor.entity';
import { LibraryFullSync } from './library-full-sync';
import { LibraryChange, LibraryMappingError, libraryPath, mapLibraryChange, pick } from './library-mapping';
import { LibrarySource } from './library-source';

/** Another replica applied this part of the feed first: the change is rolled back, the round ends. */
class FeedRaced extends Error {}

/** The change being applied, and where the cursor goes with it. Set only around one `change` call. */
interface Pending {
  licenceId: string;
  from: string;
  to: string;
}

/**
 * Follows the licence library's change feed (docs/licence-library.md §5): polls it from the stored
 * cursor and applies each change through LicenceStatusService (source `library`, actor
 * `library-feed`), so status lists and change notices follow the library. The cursor advances in the
 * SAME transaction as the change it follows (this worker is also a status listener for that), so a
 * restart resumes exactly after the last applied change, and a replica that lost the race to apply
 * it rolls its attempt back. A no-op change (status already so) or one the status service refuses
 * (e.g. un-revoking) advances the cursor on its own. Before polling, a gateway that never synchronised
 * (or whose cursor is empty) first reads the library's full listing (LibraryFullSync).
 */
@Injectable()
export class LibraryFeedWorker implements LicenceStatusListener, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('LicenceLibraryFeed');
  private pending: Pending | null = null;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = true;
  private failing = false;
  /** The initial full synchronisation, run by each round before the feed when needed. */
  readonly fullSync: LibraryFullSync;

  constructor(
    private readonly source: LibrarySource,
    private readonly statuses: LicenceStatusService,
    private readonly ds: DataSource,
  ) {
    statuses.register(this);
    this.fullSync = new LibraryFullSync(source, statuses, ds);
  }

  onApplicationBootstrap(): void {
    if (!this.source.mapping.feed || this.source.options.feed.pollMs === 0) return;
    this.stopped = false;
    this.schedule(0);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Reads one page of the feed and applies it; returns how many changes it took from the feed. */
  async poll(): Promise<number> {
    const feed = this.source.mapping.feed;
    if (!feed) return 0;
    const cursor = (await this.ds.getRepository(LibraryFeedCursorEntity).findOneByOrFail({ id: LIBRARY_FEED_CURSOR_ID })).cursor;
    const body = await this.source.client.get(libraryPath(feed.path, { cursor, limit: this.source.options.feed.batch }));
    const raw = pick(body, feed.changes);
    const next = pick(body, feed.nextCursor);
    if (!Array.isArray(raw) || (typeof next !== 'string' && typeof next !== 'number')) {
      throw new LibraryMappingError(`the feed answer has no ${feed.changes} array or no ${feed.nextCursor} cursor`);
    }
    const changes = raw.map((c) => mapLibraryChange(c, this.source.mapping));
    let from = cursor;
    for (const [i, c] of changes.entries()) {
      // Every change but the last leaves the cursor on its own position, when the feed gives one.
      const to = i === changes.length - 1 ? String(next) : (positionOf(raw[i], feed.fields.cursor) ?? from);
      if (!(await this.apply(c, from, to))) return i;
      from = to;
    }
    if (changes.length === 0 && String(next) !== cursor) await runInTransaction(this.ds, (tx) => this.moveCursor(tx, cursor, String(next), 0));
    return changes.length;
  }

  /** Status listener: moves the cursor with the feed's own change, inside its transaction. */
  async onLicenceStatusChange(change: LicenceStatusChange, em: EntityManager): Promise<void> {
    const p = this.pending;
    if (!p || change.actor !== 'library-feed' || change.licenceId !== p.licenceId) return;
    this.pending = null;
    if (!(await this.moveCursor(em, p.from, p.to))) throw new FeedRaced('another replica applied this change first');
  }

  /** Applies one change with its cursor move; false when another replica was first. */
  private async apply(c: LibraryChange, from: string, to: string): Promise<boolean> {
    this.pending = { licenceId: c.licenceId, from, to };
    try {
      await this.statuses.change({ licenceId: c.licenceId, status: c.status, reason: c.reason, changedAt: c.changedAt, source: 'library', actor: 'library-feed' });
    } catch (e) {
      if (e instanceof FeedRaced) return false;
      // Refused for good (a licence id that does not check, un-revoking): logged, audited by the status service, skipped.
      if (!(e instanceof DomainException) || e.code === 'UNAVAILABLE') throw e;
      this.logger.warn(`change of ${c.licenceId} to ${c.status} from the library feed refused (${e.details.rule ?? e.code}); skipped`);
    } finally {
      // The library's newer status must answer the next query at once, not after the cache ttl.
      this.source.lookup.forget(c.licenceId);
    }
    // Still pending: the status was already so, or the change was refused; the cursor moves alone.
    if (this.pending) {
      this.pending = null;
      return this.advance(from, to);
    }
    return true;
  }

  private async advance(from: string, to: string): Promise<boolean> {
    return runInTransaction(this.ds, (tx) => this.moveCursor(tx, from, to));
  }

  /** Moves the cursor from `from` (false if it is elsewhere: another replica moved it) to `to`, counting `applied` changes. */
  private async moveCursor(tx: EntityManager, from: string, to: string, applied = 1): Promise<boolean> {
    await lockForTransaction(tx, FEED_LOCK, 'cursor');
    const repo = tx.getRepository(LibraryFeedCursorEntity);
    const row = await repo.findOneByOrFail({ id: LIBRARY_FEED_CURSOR_ID });
    if (row.cursor !== from) return false;
    await repo.update({ id: LIBRARY_FEED_CURSOR_ID }, { cursor: to, applied: row.applied + applied, updatedAt: new Date() });
    return true;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.round();
    }, ms);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    let full = false;
    try {
      await this.fullSync.runIfNeeded();
      full = (await this.poll()) >= this.source.options.feed.batch;
      if (this.failing) this.logger.log('the licence library feed is read again');
      this.failing = false;
    } catch (e) {
      // One warning per outage, not one per poll.
      if (!this.failing) this.logger.warn(`reading the licence library feed failed: ${errorMessage(e)}; retrying every ${this.source.options.feed.pollMs} ms`);
      this.failing = true;
    }
    this.schedule(full ? 0 : this.source.options.feed.pollMs);
  }
}

function positionOf(raw: unknown, field: string | undefined): string | undefined {
  if (!field || typeof raw !== 'object' || raw === null) return undefined;
  const v = (raw as Record<string, unknown>)[field];
  return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
}
