import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DataSource, EntityManager } from 'typeorm';
import { Clock, SELF_CODE, errorMessage } from '@tongban/common';
import { KeyStore } from '@tongban/keys';
import { afterCommit, lockForTransaction, placeholder, runInTransaction } from '@tongban/persistence';
import { LicenceStatusChange, LicenceStatusListener, LicenceStatusService } from '../licence-status';
import { StatusEntry } from './bitstring';
import { STATUS_LIST_TYP, encodeStatusListContent, statusListClaims } from './status-list-claims';
import { StatusListEntity } from './status-list.entity';

/** Injection token for StatusListOptions. */
export const STATUS_LIST_OPTIONS = Symbol('STATUS_LIST_OPTIONS');
export interface StatusListOptions {
  /** statusListTtl: a list is re-signed at least this often (seconds), and askers rely on it this long. */
  ttlSeconds: number;
}

const LIST_LOCK = 7_415_842;

/**
 * Publishes this issuer's signed status lists. A status change marks the licence's list dirty in the
 * change's own transaction (LicenceStatusListener); once it commits, the list is regenerated and
 * re-signed at once. A timer also re-signs every list older than half its ttl, so a served list is
 * never older than statusListTtl. Signing goes through the KeyStore (the active key, like attestations).
 */
@Injectable()
export class StatusListPublisher implements LicenceStatusListener, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('StatusLists');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private again = false;
  private busy = false;
  private stopped = false;

  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    private readonly keys: KeyStore,
    private readonly status: LicenceStatusService,
    @Inject(SELF_CODE) private readonly self: string,
    @Inject(STATUS_LIST_OPTIONS) private readonly options: StatusListOptions,
  ) {}

  onModuleInit(): void {
    this.status.register(this);
    this.timer = setInterval(() => this.kick(), Math.min(60_000, (this.options.ttlSeconds * 1000) / 4));
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Marks the licence's list dirty (same transaction) and regenerates it after the commit. */
  async onLicenceStatusChange(change: LicenceStatusChange, em: EntityManager): Promise<void> {
    const p = placeholder(em.connection, 1);
    await em.query(`UPDATE status_lists SET dirty = ${this.pg(em) ? 'true' : '1'} WHERE list_id IN (SELECT list_id FROM status_list_entries WHERE licence_id = ${p})`, [change.licenceId]);
    afterCommit(em, () => this.kick());
  }

  /** Regenerates every list that is dirty or due (one run at a time; a kick during a run runs again after it). */
  kick(): void {
    if (this.stopped) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.running = (async () => {
      do {
        this.again = false;
        await this.refreshDue().catch((e: unknown) => this.logger.warn(`status lists not regenerated: ${errorMessage(e)}`));
      } while (this.again);
      this.busy = false;
    })();
  }

  /** Regenerates the lists that are dirty, unsigned, or signed more than half a ttl ago; returns their ids. */
  async refreshDue(): Promise<string[]> {
    const lists = await this.ds.getRepository(StatusListEntity).find();
    const ids = lists.filter((l) => this.due(l)).map((l) => l.listId);
    for (const id of ids) await this.regenerate(id);
    return ids;
  }

  /** The list to serve: regenerated first if dirty or signed more than half a ttl ago. Null for a list we never opened. */
  async serve(listId: string): Promise<{ version: number; jws: string } | null> {
    let row = await this.ds.getRepository(StatusListEntity).findOneBy({ listId });
    if (!row) return null;
    if (this.due(row)) row = await this.regenerate(listId);
    return { version: row.version, jws: row.jws! };
  }

  // Re-signed at half its ttl: an asker gets a list with at least half its ttl left.
  private due(l: StatusListEntity): boolean {
    return l.dirty || !l.jws || !l.generatedAt || l.generatedAt.getTime() <= this.clock.now().getTime() - (this.options.ttlSeconds * 1000) / 2;
  }

  /** Builds, signs and stores one list; the version grows only when its content changed. */
  async regenerate(listId: string): Promise<StatusListEntity> {
    const started = performance.now();
    const row = await runInTransaction(this.ds, async (tx) => {
      await lockForTransaction(tx, LIST_LOCK, listId);
      const list = await tx.getRepository(StatusListEntity).findOneByOrFail({ listId });
      const entries = await nonValidEntries(tx, listId);
      const content = encodeStatusListContent(list.size, entries);
      const hash = createHash('sha256').update(`${content.encodedList}.${content.changes}`).digest('hex');
      const now = this.clock.now();
      const version = hash === list.contentHash ? list.version : list.version + 1;
      const claims = statusListClaims({ iss: this.self, listId, typeCode: list.typeCode, size: list.size, iat: Math.floor(now.getTime() / 1000), ttl: this.options.ttlSeconds, ver: version }, content);
      Object.assign(list, { version, contentHash: hash, jws: this.keys.signJws(STATUS_LIST_TYP, claims), generatedAt: now, dirty: false });
      await tx.getRepository(StatusListEntity).save(list);
      return list;
    });
    this.logger.debug(`status list ${listId} v${row.version} signed in ${(performance.now() - started).toFixed(1)} ms`);
    return row;
  }

  private pg(em: EntityManager): boolean {
    return em.connection.options.type === 'postgres';
  }
}

/** Every SUSPENDED or REVOKED entry of a list, with its time of change (seconds). */
async function nonValidEntries(tx: EntityManager, listId: string): Promise<StatusEntry[]> {
  const rows: { idx: number | string; status: string; at: number | string | null }[] = await tx.query(
    `SELECT e.idx AS idx, COALESCE(s.status, l.status) AS status, COALESCE(s.changed_at, l.updated_at) AS at
     FROM status_list_entries e LEFT JOIN licence_status s ON s.licence_id = e.licence_id LEFT JOIN licences l ON l.licence_id = e.licence_id
     WHERE e.list_id = ${placeholder(tx.connection, 1)} AND COALESCE(s.status, l.status, 'VALID') IN ('SUSPENDED', 'REVOKED')`,
    [listId],
  );
  return rows.map((r) => ({ idx: Number(r.idx), status: r.status as StatusEntry['status'], changedAt: Math.floor(Number(r.at ?? 0) / 1000) }));
}
