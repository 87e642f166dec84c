import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { Clock } from '@tongban/common';
import { lockForTransaction, pendingWrites } from '@tongban/persistence';

// First key of pg_advisory_xact_lock(int, int) for outbox seq allocation; the second hashes schema,
// peer and stream (a hash collision only makes two streams wait for each other).
const SEQ_LOCK_KEY = 7_415_824;

/** Takes the lock every enqueue on (peer, stream) takes first (PostgreSQL; SQLite has one writer), until `tx` commits. */
export function lockStream(tx: EntityManager, peer: string, stream: string): Promise<void> {
  return lockForTransaction(tx, SEQ_LOCK_KEY, `${peer}/${stream}`);
}

/** A message to hand to a peer reliably. */
export interface OutgoingMessage {
  peer: string;
  /** Ordering key: messages of one stream reach one peer in the order they were enqueued. */
  stream: string;
  /** Fully qualified protobuf type of `body`. */
  type: string;
  body: Uint8Array;
  /** Sign the envelope with this own key instead of the active one (key announcements only). */
  signKid?: string;
  /**
   * Correlation id to store and send with it: the one of the request that caused it. Required, so
   * that no caller forgets it (it is passed explicitly, not read from async context); `undefined`
   * only where no request caused the message (a timer, a worker).
   */
  correlationId: string | undefined;
}

/**
 * Transactional outbox: `enqueue` writes the message with the caller's transaction, so the state
 * change and the message commit together or not at all. The Dispatcher sends them later.
 */
@Injectable()
export class Outbox {
  constructor(private readonly clock: Clock) {}

  /**
   * Adds a message inside `tx`; returns its id. `streamLocked`: the caller's transaction already
   * holds a lock, until it commits, that every enqueue on this stream takes first (a case's row
   * for the case's stream), so the stream's own lock is not needed.
   */
  async enqueue(tx: EntityManager, m: OutgoingMessage, o: { streamLocked?: boolean } = {}): Promise<string> {
    // seq is MAX + 1, read by the insert itself: replicas sharing a PostgreSQL database take the
    // stream's lock first (held to commit; the insert's snapshot is taken after it), or two of them
    // would read the same MAX and collide. SQLite has one writer already.
    // (The same lock as before lockForTransaction: schema || '/' || peer || '/' || stream, hashed.)
    if (!o.streamLocked) await lockStream(tx, m.peer, m.stream);
    // On PostgreSQL, a stream whose lock the caller holds goes with the transaction's kept writes
    // (one statement at the commit). Its parts all read MAX(seq) from the snapshot before it, so a
    // message counts the ones of its stream kept before it; SQLite runs them one by one (each sees
    // the one before), and gains nothing from keeping them: it writes now.
    const keep = o.streamLocked && tx.connection.options.type === 'postgres';
    const tag = `outbox:${m.peer}/${m.stream}`;
    const ahead = keep ? pendingWrites(tx).pendingTagged(tag) : 0;
    const now = this.clock.now().getTime();
    const id = randomUUID();
    const [sql, params] = tx.connection.driver.escapeQueryWithParameters(
      `INSERT INTO outbox_messages (id, peer, stream, seq, type, body, status, attempts, next_attempt_at, created_at, sign_kid, correlation_id)
       SELECT :id, :peer, :stream, COALESCE(MAX(seq), 0) + ${1 + ahead}, :type, :body, 'PENDING', 0, CAST(:now AS bigint), CAST(:createdAt AS bigint), :signKid, :correlationId
         FROM outbox_messages WHERE peer = :ofPeer AND stream = :ofStream`,
      {
        id,
        peer: m.peer,
        stream: m.stream,
        // Named apart from peer and stream: PostgreSQL deduces a parameter's type from each use.
        ofPeer: m.peer,
        ofStream: m.stream,
        type: m.type,
        body: Buffer.from(m.body).toString('base64'),
        now,
        createdAt: now,
        signKid: m.signKid ?? null,
        correlationId: m.correlationId ?? null,
      },
      {},
    );
    if (keep) pendingWrites(tx).statement(sql, params, tag);
    else await tx.query(sql, params);
    return id;
  }
}
