import { Injectable } from '@nestjs/common';
import { randomInt } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { lockForTransaction, runInTransaction } from '@tongban/persistence';
import { STATUS_LIST_SIZE, pickFreeIndex } from './bitstring';
import { StatusRef, statusListId } from './status-list-claims';
import { StatusListEntryEntity } from './status-list-entry.entity';
import { StatusListEntity } from './status-list.entity';

const INDEX_LOCK = 7_415_841;
/** Refs kept in memory (a verification of a licence seen before costs no query); cleared when full. */
const CACHE_MAX = 100_000;

/**
 * Hands each attested licence a random index in a status list of its type, once: stored in
 * `status_list_entries`, unique per list. A list takes new licences until half of its entries are
 * handed out, then the type's next list opens; so a draw finds a free index with probability ≥ 1/2
 * and an index says nothing about when, or in what order, licences were first attested.
 */
@Injectable()
export class StatusListIndex {
  private readonly cache = new Map<string, StatusRef>();

  constructor(private readonly ds: DataSource) {}

  /** The licence's place in its type's status lists, assigned now if it has none. */
  async refFor(licenceId: string, typeCode: string, status: string): Promise<StatusRef> {
    const hit = this.cache.get(licenceId);
    if (hit) return hit;
    const row = (await this.ds.getRepository(StatusListEntryEntity).findOneBy({ licenceId })) ?? (await runInTransaction(this.ds, (tx) => this.assign(tx, licenceId, typeCode, status)));
    const ref = { list: row.listId, idx: row.idx };
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(licenceId, ref);
    return ref;
  }

  private async assign(tx: EntityManager, licenceId: string, typeCode: string, status: string): Promise<StatusListEntryEntity> {
    await lockForTransaction(tx, INDEX_LOCK, typeCode);
    const entries = tx.getRepository(StatusListEntryEntity);
    const existing = await entries.findOneBy({ licenceId });
    if (existing) return existing;
    const lists = tx.getRepository(StatusListEntity);
    const all = await lists.find({ where: { typeCode }, order: { seq: 'DESC' } });
    let list = all.find((l) => l.assigned < l.size / 2);
    if (!list) {
      const seq = all.length ? all[0].seq + 1 : 0;
      list = lists.create({ listId: statusListId(typeCode, seq), typeCode, seq, size: STATUS_LIST_SIZE, assigned: 0, version: 0, contentHash: null, jws: null, generatedAt: null, dirty: true });
    }
    const listId = list.listId;
    const idx = await pickFreeIndex(list.size, async (i) => (await entries.countBy({ listId, idx: i })) > 0, randomInt);
    const entry = entries.create({ licenceId, listId, idx });
    await entries.insert(entry);
    list.assigned += 1;
    // A licence imported as SUSPENDED or REVOKED sets its bits the moment it joins a list.
    if (status === 'SUSPENDED' || status === 'REVOKED') list.dirty = true;
    await lists.save(list);
    return entry;
  }
}
