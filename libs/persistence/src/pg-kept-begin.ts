import { Query } from 'pg';

/** What TypeORM sends to open a transaction on PostgreSQL (PostgresQueryRunner.startTransaction). */
export const BEGIN_TEXT = 'START TRANSACTION';

/** The answer to a BEGIN (or to the COMMIT/ROLLBACK of a transaction that never ran a statement) not sent. */
export function notSent(command: string): { command: string; rowCount: null; rows: never[]; fields: never[] } {
  return { command, rowCount: null, rows: [], fields: [] };
}

interface ProtocolConnection {
  parse(m: { text: string; name?: string }): void;
  bind(m: { portal?: string; statement?: string; values?: unknown[] }): void;
  execute(m: { portal?: string; rows?: number }): void;
}

/**
 * A parameterised statement sent with the BEGIN of its transaction in front of it, in one write and
 * one round trip: the BEGIN goes as an unnamed Parse/Bind/Execute with no Sync of its own, so the
 * server runs both before the statement's Sync and answers with one ReadyForQuery (the extended
 * protocol's pipelining, as libpq's pipeline mode does it). pg sees two command results in one query
 * and hands on an array: the statement's result is the last. An error in either skips to the Sync,
 * as an error of the statement alone does; a BEGIN that ran leaves a failed transaction block, which
 * the caller rolls back as before.
 */
export class BeginThenQuery extends Query {
  /** pg's own step that writes the statement's Parse/Bind/Describe/Execute/Sync (inside its cork). */
  prepare(connection: ProtocolConnection): void {
    connection.parse({ text: 'BEGIN', name: '' });
    connection.bind({ portal: '', statement: '', values: [] });
    connection.execute({ portal: '', rows: 0 });
    (Query.prototype as unknown as { prepare(c: ProtocolConnection): void }).prepare.call(this, connection);
  }
}

/** The statement's own result out of a BeginThenQuery's [BEGIN, statement] results. */
export function statementResult<R>(results: R | R[]): R {
  return Array.isArray(results) ? results[results.length - 1] : results;
}
