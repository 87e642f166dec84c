import { Logger } from '@nestjs/common';
import { DomainException } from '@tongban/common';

const logger = new Logger('Database');

/** Why the database could not be used; the `reason` of a 503 UNAVAILABLE and the metric's label. */
export type DatabaseFaultKind = 'connection_lost' | 'busy';

const counts: Record<DatabaseFaultKind, number> = { connection_lost: 0, busy: 0 };

/** Faults seen since start, by kind (read by the metrics endpoint: tongban_database_faults_total). */
export function databaseFaultCounts(): Readonly<Record<DatabaseFaultKind, number>> {
  return counts;
}

/** Counts a fault (and logs it, at most once per second per kind, so an outage does not flood the log). */
export function recordDatabaseFault(kind: DatabaseFaultKind, err: unknown): void {
  counts[kind]++;
  const now = Date.now();
  if (now - (lastLogged[kind] ?? 0) >= 1000) {
    lastLogged[kind] = now;
    logger.warn(`database fault (${kind}): ${describe(err)}; tongban_database_faults_total{kind="${kind}"} = ${counts[kind]}`);
  }
}
const lastLogged: Partial<Record<DatabaseFaultKind, number>> = {};

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; driverError?: { code?: string } };
  const code = e?.driverError?.code ?? e?.code;
  return `${code ? `${code} ` : ''}${e?.message ?? String(err)}`.slice(0, 300);
}

/**
 * True when an error means the connection to PostgreSQL was lost or refused (the server shut the
 * backend down, the network dropped, the pool handed out a dead client): nothing about the request
 * itself is wrong, and it may succeed when retried.
 */
export function isConnectionLost(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; name?: unknown; driverError?: { code?: unknown; message?: unknown } };
  if (!e || typeof e !== 'object') return false;
  for (const c of [e.code, e.driverError?.code]) {
    if (typeof c !== 'string') continue;
    if (c === '57P01' || c === '57P02' || c === '57P03' || c.startsWith('08')) return true;
    if (c === 'ECONNRESET' || c === 'ECONNREFUSED' || c === 'EPIPE' || c === 'ETIMEDOUT') return true;
  }
  // TypeORM releases a query runner whose connection emitted 'error'; later use throws one of these.
  if (e.name === 'QueryRunnerAlreadyReleasedError' || e.name === 'QueryRunnerProviderAlreadyReleasedError') return true;
  const text = `${typeof e.message === 'string' ? e.message : ''} ${typeof e.driverError?.message === 'string' ? e.driverError.message : ''}`;
  return /Connection terminated|Query runner already released|query runner was already released|Client has encountered a connection error|Connection ended unexpectedly|timeout exceeded when trying to connect/i.test(
    text,
  );
}

/**
 * The typed error for a lost database connection: 503 UNAVAILABLE (Retry-After) over HTTP,
 * UNAVAILABLE over gRPC. `committed` unknown only when COMMIT itself was cut off.
 */
export function databaseUnavailable(err: unknown, outcomeUnknown = false): DomainException {
  recordDatabaseFault('connection_lost', err);
  return new DomainException(
    'UNAVAILABLE',
    outcomeUnknown
      ? 'the database connection was lost while committing; the change may or may not be stored: check before retrying'
      : 'the database connection was lost; nothing was stored: retry later',
    { reason: outcomeUnknown ? 'DATABASE_COMMIT_UNKNOWN' : 'DATABASE_UNAVAILABLE' },
  );
}

/** Maps a lost connection to UNAVAILABLE; anything else is returned unchanged. */
export function asDatabaseFault(err: unknown): unknown {
  return err instanceof DomainException ? err : isConnectionLost(err) ? databaseUnavailable(err) : err;
}

// Tries of a read after a commit: each dead pooled client costs one before the pool drops it.
const READ_BACK_ATTEMPTS = 4;

/**
 * Reads back, for the answer, what a request has just committed. A lost connection is retried on a
 * fresh one (a read can be); if that keeps failing the answer is 503 DATABASE_READ_AFTER_COMMIT naming
 * where to read the stored change, never DATABASE_UNAVAILABLE ("nothing was stored"), which would
 * make the client repeat a change that took effect.
 */
export async function readAfterCommit<T>(read: () => Promise<T>, location: string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (e) {
      if (!isConnectionLost(e)) throw e;
      recordDatabaseFault('connection_lost', e);
      if (attempt >= READ_BACK_ATTEMPTS) {
        throw new DomainException('UNAVAILABLE', `the change was stored, but reading it back failed (database connection lost): read ${location} later`, {
          reason: 'DATABASE_READ_AFTER_COMMIT',
          location,
        });
      }
    }
  }
}
