import { AsyncLocalStorage } from 'node:async_hooks';
import { EntitySubscriberInterface, EventSubscriber } from 'typeorm';
import type { AfterQueryEvent } from 'typeorm/subscriber/event/QueryEvent';
import { DomainException } from '@tongban/common';
import { asDatabaseFault } from './database-faults';

/** Writes the database confirmed while one request ran: commits, and changing statements outside a transaction. */
export class ConfirmedWrites {
  count = 0;
}

// Only an observation for the answer, never a lock or an owner: a scope that leaked into a timer
// started by the request could only make a later fault of that request say "may be stored"
// instead of "nothing was stored", the safe direction.
//
// The one AsyncLocalStorage left in the gateway, and it is off while no counted request runs: in
// Node 20 a store that was entered once keeps promise hooks installed for the whole process (an
// init hook on every promise, 4–5 % of CPU per verification on each gateway), so the scope is
// disabled again whenever the last counted request ends. Routes whose handler awaits no write of
// its own (the verifications, see COUNTS_NO_WRITES) are never counted, so the verification path runs
// without any hook. Counting by an explicit object passed down to every service would need every
// write route's services to take it; a follow-up may do that and remove this store.
const scope = new AsyncLocalStorage<ConfirmedWrites>();
let counting = 0;

/**
 * Runs `fn` counting, in `writes`, every write the database confirms while it runs, until `end` is
 * called (the HTTP response closed): `fn` may return before the request's work is done.
 */
export function countingWrites<T>(writes: ConfirmedWrites, fn: () => T): { result: T; end: () => void } {
  counting++;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    if (--counting === 0) scope.disable();
  };
  return { result: scope.run(writes, fn), end };
}

/**
 * The counter of the request running here, if its writes are being counted: for writes that bypass
 * TypeORM's query runner (PreparedStatement, runInTurn), which the observer below cannot see. They add
 * to it once the database confirmed them.
 */
export function countedWritesHere(): ConfirmedWrites | undefined {
  return counting > 0 ? scope.getStore() : undefined;
}

/** Whether any request's writes are being counted now (the store, and with it Node's async hooks, is on). */
export function countingWritesNow(): boolean {
  return counting > 0;
}

/**
 * Route config (`@RouteConfig(COUNTS_NO_WRITES)`) of a route whose handler awaits no database write of
 * its own (audit rows of a verification go in batches): its requests are not counted, so serving
 * them never turns on Node's async hooks. A 503 of such a route is never DATABASE_COMMIT_UNKNOWN.
 */
export const COUNTS_NO_WRITES = { countsNoWrites: true } as const;

/**
 * Route config (`@RouteConfig(WRITES_ONE_TRANSACTION)`) of a route whose handler writes in exactly one
 * `runInTransaction` and nothing before it, then reads its answer with `readAfterCommit`: its faults
 * already say what was stored (before COMMIT nothing, DATABASE_UNAVAILABLE or DATABASE_BUSY; during
 * COMMIT DATABASE_COMMIT_UNKNOWN; after it DATABASE_READ_AFTER_COMMIT), so counting its writes adds
 * nothing, and its requests are served without Node's async hooks (the case and task routes).
 */
export const WRITES_ONE_TRANSACTION = { countsNoWrites: true } as const;

const CHANGES = /^\s*(INSERT|UPDATE|DELETE|MERGE)\b/i;

/** Counts confirmed writes for `countingWrites` (registered on every data source by buildDataSource). */
@EventSubscriber()
export class ConfirmedWriteObserver implements EntitySubscriberInterface {
  afterQuery(event: AfterQueryEvent<unknown>): void {
    const writes = scope.getStore();
    if (!writes || !event.success) return;
    // COMMIT runs while the transaction is still marked active; a lone statement is its own commit.
    if (/^\s*COMMIT\s*$/i.test(event.query) || (!event.queryRunner.isTransactionActive && CHANGES.test(event.query))) writes.count++;
  }
}

/**
 * `asDatabaseFault`, and the answer for an error of a request that had already stored something: a lost or busy database
 * must then not say "nothing was stored" (DATABASE_UNAVAILABLE, DATABASE_BUSY), which would invite a
 * blind retry of a change that partly took effect; it says DATABASE_COMMIT_UNKNOWN (read before retrying).
 */
export function databaseFaultAfterWrites(err: unknown, writes: ConfirmedWrites | undefined): unknown {
  const fault = asDatabaseFault(err);
  if (!writes?.count || !(fault instanceof DomainException) || fault.code !== 'UNAVAILABLE') return fault;
  if (fault.details.reason !== 'DATABASE_UNAVAILABLE' && fault.details.reason !== 'DATABASE_BUSY') return fault;
  return new DomainException('UNAVAILABLE', 'the database failed after part of this request was stored; read before retrying', { reason: 'DATABASE_COMMIT_UNKNOWN' });
}
