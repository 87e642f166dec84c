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
const scope = new AsyncLocalStorage<ConfirmedWrites>();

/** Runs `fn` counting, in `writes`, every write the database confirms while it runs. */
export function countingWrites<T>(writes: ConfirmedWrites, fn: () => T): T {
  return scope.run(writes, fn);
}

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
