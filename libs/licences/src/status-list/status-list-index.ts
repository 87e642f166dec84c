import { Injectable } from '@nestjs/common';
import { randomInt } from 'node:crypto';
import { DataSource } from 'typeorm';
import { PreparedStatement, SqliteTurn, lockForTransaction, runInTransaction, runInTurn } from '@tongban/persistence';
import { STATUS_LIST_SIZE } from './bitstring';
import { StatusRef, statusListId } from './status-list-claims';

const INDEX_LOCK = 7_415_841;
/** Refs kept in memory (a verification of a licence seen before costs no query); cleared when full. */
const CACHE_MAX = 100_000;
/** Random draws for one licence before giving up (each hits a free index with probability ≥ 1/2). */
const MAX_DRAWS = 64;
/** Rows per insert statement (three parameters each: well under SQLite's and PostgreSQL's limits). */
const INSERT_ROWS = 500;

interface Waiter {
  licenceId: string;
  status: string;
  resolve: (ref: StatusRef) => void;
  reject: (e: unknown) => void;
}

interface OpenList {
  listId: string;
  size: number;
  assigned: number;
}

/** One statement of an assignment (`?` placeholders). */
interface Step {
  sql: string;
  params: unknown[];
}
/** An assignment: yields its statements, gets each one's rows back, returns the refs. */
type Assignment = Generator<Step, Map<string, StatusRef>, unknown[]>;

/**
 * Hands each attested licence a random index in a status list of its type, once: stored in
 * `status_list_entries`, unique per list. A list takes new licences until half of its entries are
 * handed out, then the type's next list opens; so a draw finds a free index with probability ≥ 1/2
 * and an index says nothing about when, or in what order, licences were first attested.
 *
 * Hot path (docs/performance.md, issue 10): a licence seen before costs a map lookup, or one
 * prepared statement after a restart; first sights of one type in the same turn of the event loop
 * are assigned together (one lists read, one multi-row insert whose index collisions are redrawn,
 * one counter update per list), instead of a transaction of seven ORM statements each. The
 * assignment is written once (`assign`, a generator of statements) and run by the backend: on
 * SQLite synchronously in the turn's shared write transaction (`runInTurn`: one commit with the
 * turn's replay-store inserts, no ORM); on PostgreSQL in a transaction holding the type's lock.
 */
@Injectable()
export class StatusListIndex {
  private readonly cache = new Map<string, StatusRef>();
  private readonly pending = new Map<string, Waiter[]>();
  private readonly byLicence: PreparedStatement<{ list_id: string; idx: number | string }>;
  /** Entries of a new list: the protocol's size (docs/protocol-status.md); tests shrink it to reach collisions and roll-over. */
  listSize = STATUS_LIST_SIZE;

  constructor(private readonly ds: DataSource) {
    this.byLicence = new PreparedStatement(ds, 'SELECT list_id, idx FROM status_list_entries WHERE licence_id = ?');
  }

  /** The licence's place in its type's status lists, assigned now if it has none. */
  async refFor(licenceId: string, typeCode: string, status: string): Promise<StatusRef> {
    const hit = this.cache.get(licenceId);
    if (hit) return hit;
    const [row] = await this.byLicence.all([licenceId]);
    const ref = row ? { list: row.list_id, idx: Number(row.idx) } : await this.enqueue(licenceId, typeCode, status);
    this.remember(licenceId, ref);
    return ref;
  }

  private remember(licenceId: string, ref: StatusRef): void {
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(licenceId, ref);
  }

  private enqueue(licenceId: string, typeCode: string, status: string): Promise<StatusRef> {
    return new Promise<StatusRef>((resolve, reject) => {
      let group = this.pending.get(typeCode);
      if (!group) {
        group = [];
        this.pending.set(typeCode, group);
        // On SQLite the turn's transaction starts on the next turn anyway: the group is taken then.
        if (this.ds.options.type === 'postgres') setImmediate(() => void this.flush(typeCode));
        else void this.flush(typeCode);
      }
      group.push({ licenceId, status, resolve, reject });
    });
  }

  private async flush(typeCode: string): Promise<void> {
    let group: Waiter[] | undefined;
    const take = () => {
      group = this.pending.get(typeCode) ?? [];
      this.pending.delete(typeCode);
      return group;
    };
    try {
      const refs = this.ds.options.type === 'postgres' ? await this.onPostgres(typeCode, take()) : await runInTurn(this.ds, (db) => onSqlite(db, this.assign(typeCode, take())));
      for (const w of group!) w.resolve(refs.get(w.licenceId)!);
    } catch (e) {
      for (const w of group ?? take()) w.reject(e);
    }
  }

  private onPostgres(typeCode: string, group: Waiter[]): Promise<Map<string, StatusRef>> {
    return runInTransaction(this.ds, async (tx) => {
      await lockForTransaction(tx, INDEX_LOCK, typeCode);
      const steps = this.assign(typeCode, group);
      for (let step = steps.next(); ;) {
        if (step.done) return step.value;
        let n = 0;
        const rows: unknown[] = await tx.query(
          step.value.sql.replace(/\?/g, () => `$${++n}`),
          step.value.params,
        );
        step = steps.next(rows);
      }
    });
  }

  /**
   * Indexes for the group's licences (the same licence may appear twice), inside the caller's
   * transaction (on PostgreSQL one holding the type's lock; SQLite has one writer).
   */
  private *assign(typeCode: string, group: Waiter[]): Assignment {
    const refs = new Map<string, StatusRef>();
    const ids = [...new Set(group.map((w) => w.licenceId))];
    // Assigned meanwhile (another replica, or a group of an earlier turn that held the lock).
    const known = (yield { sql: `SELECT licence_id, list_id, idx FROM status_list_entries WHERE licence_id IN (${marks(ids.length)})`, params: ids }) as {
      licence_id: string;
      list_id: string;
      idx: number | string;
    }[];
    for (const r of known) refs.set(r.licence_id, { list: r.list_id, idx: Number(r.idx) });
    let todo = ids.filter((id) => !refs.has(id));
    if (!todo.length) return refs;
    const lists = (yield { sql: 'SELECT list_id, seq, size, assigned FROM status_lists WHERE type_code = ? ORDER BY seq DESC', params: [typeCode] }) as {
      list_id: string;
      seq: number | string;
      size: number | string;
      assigned: number | string;
    }[];
    let nextSeq = lists.length ? Number(lists[0].seq) + 1 : 0;
    const open = lists.map((l) => ({ listId: l.list_id, size: Number(l.size), assigned: Number(l.assigned) })).find((l) => l.assigned < l.size / 2);
    let list: OpenList = open ?? (yield* this.openList(typeCode, nextSeq++));
    const added = new Map<string, number>();
    const dirty = new Set<string>();
    const statusOf = new Map(group.map((w) => [w.licenceId, w.status]));
    // Each licence takes a place in the open list (filled to half, then the next one opens) and keeps
    // it: an index that collides (taken before, or drawn twice in this batch) is redrawn in that list.
    const placeOf = new Map<string, OpenList>();
    for (let draw = 0; todo.length; draw++) {
      if (draw >= MAX_DRAWS) throw new Error(`no free status list index after ${MAX_DRAWS} draws`);
      const batch: { id: string; listId: string; idx: number }[] = [];
      for (const id of todo) {
        let place = placeOf.get(id);
        if (!place) {
          if (list.assigned >= list.size / 2) list = yield* this.openList(typeCode, nextSeq++);
          list.assigned += 1;
          place = list;
          placeOf.set(id, place);
        }
        batch.push({ id, listId: place.listId, idx: randomInt(place.size) });
      }
      // Colliding indexes (taken before, or drawn twice in this batch) are not inserted and go round again.
      const inserted = new Set<string>();
      for (let at = 0; at < batch.length; at += INSERT_ROWS) {
        const rows = batch.slice(at, at + INSERT_ROWS);
        const sql = `INSERT INTO status_list_entries (licence_id, list_id, idx) VALUES ${rows.map(() => '(?, ?, ?)').join(', ')} ON CONFLICT DO NOTHING RETURNING licence_id`;
        for (const r of (yield { sql, params: rows.flatMap((b) => [b.id, b.listId, b.idx]) }) as { licence_id: string }[]) inserted.add(r.licence_id);
      }
      for (const b of batch) {
        if (!inserted.has(b.id)) continue;
        refs.set(b.id, { list: b.listId, idx: b.idx });
        added.set(b.listId, (added.get(b.listId) ?? 0) + 1);
        // A licence imported as SUSPENDED or REVOKED sets its bits the moment it joins a list.
        const s = statusOf.get(b.id);
        if (s === 'SUSPENDED' || s === 'REVOKED') dirty.add(b.listId);
      }
      todo = todo.filter((id) => !refs.has(id));
    }
    for (const [listId, n] of added) {
      yield { sql: `UPDATE status_lists SET assigned = assigned + ?${dirty.has(listId) ? ', dirty = TRUE' : ''} WHERE list_id = ?`, params: [n, listId] };
    }
    return refs;
  }

  private *openList(typeCode: string, seq: number): Generator<Step, OpenList, unknown[]> {
    const listId = statusListId(typeCode, seq);
    yield {
      sql: 'INSERT INTO status_lists (list_id, type_code, seq, size, assigned, version, content_hash, jws, generated_at, dirty) VALUES (?, ?, ?, ?, 0, 0, NULL, NULL, NULL, TRUE)',
      params: [listId, typeCode, seq, this.listSize],
    };
    return { listId, size: this.listSize, assigned: 0 };
  }
}

/** Runs an assignment's statements on SQLite, synchronously (inside the turn's transaction). */
function onSqlite(db: SqliteTurn, steps: Assignment): Map<string, StatusRef> {
  for (let step = steps.next(); ;) {
    if (step.done) return step.value;
    step = steps.next(db.query(step.value.sql, step.value.params));
  }
}

const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');
