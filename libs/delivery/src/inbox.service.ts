import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Clock, SELF_CODE, TIMESTAMP_RULE, timestampDate } from '@tongban/common';
import { FEDERATION_OPTIONS, FederationOptions, RefusalException, ReplayMark } from '@tongban/federation';
import { KeyStore } from '@tongban/keys';
import { isUniqueViolation, pendingWrites, runInTransaction } from '@tongban/persistence';
import { correlated } from '@tongban/observability';
import { DeliveryPayload } from '@tongban/proto';
import { RECEIPT_TYP, ReceiptClaims } from './delivery.options';
import { receiptClaims } from './receipt-claims';
import { InboxMessageEntity } from './inbox-message.entity';

/** A delivered message as a handler sees it. */
export interface IncomingMessage {
  sender: string;
  messageId: string;
  stream: string;
  seq: number;
  type: string;
  body: Buffer;
  /** The sender's correlation id (gRPC metadata), for what the handler logs or sends on. */
  correlationId?: string;
  /** The envelope's id, remembered in the inbox transaction (its first statement); absent: the caller remembered it. */
  replay?: ReplayMark;
}

/** Applies one message type inside the inbox transaction. */
export type InboxHandler = (tx: EntityManager, m: IncomingMessage) => Promise<void>;

/** Thrown by a handler for a message that can never be applied; the sender gets a REJECTED receipt. */
export class DeliveryRejection extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * The time a peer's message gives in `field`, or null when it gives none. A Timestamp outside
 * `google.protobuf.Timestamp`'s range is rejected (REJECTED receipt naming the field), so both
 * databases answer alike and nothing is written (protocol-cases.md §2.6, protocol.md §15.4).
 */
export function peerTime(t: { seconds: string; nanos: number } | undefined, field: string): Date | null {
  if (!t) return null;
  const d = timestampDate(t);
  if (!d) throw new DeliveryRejection(`${field} must be ${TIMESTAMP_RULE}`);
  return d;
}

/**
 * Idempotent inbox: a message id from a sender takes effect once, inside one transaction with its
 * state change and its signed receipt; a second delivery gets the stored receipt back. Messages of
 * a stream must arrive in seq order (a gap is refused with OUT_OF_ORDER so the sender retries).
 */
@Injectable()
export class Inbox {
  private readonly logger = new Logger('Inbox');
  private readonly handlers = new Map<string, InboxHandler>();

  constructor(
    private readonly ds: DataSource,
    private readonly keys: KeyStore,
    private readonly clock: Clock,
    @Inject(SELF_CODE) private readonly self: string,
    @Optional() @Inject(FEDERATION_OPTIONS) private readonly federation?: FederationOptions,
  ) {}

  /** Registers the handler of one payload type. */
  on(type: string, handler: InboxHandler): void {
    this.handlers.set(type, handler);
  }

  /**
   * Applies (once) a message from `sender` and returns the signed receipt; `correlationId`: the
   * sender's, from gRPC metadata; `replay`: the envelope's id, remembered in the same transaction
   * (a replayed envelope is refused with REPLAYED before anything else; stored once answered).
   */
  async receive(sender: string, p: DeliveryPayload, correlationId?: string, replay?: ReplayMark): Promise<string> {
    const seq = Number(p.seq);
    if (!p.messageId || p.messageId.length > 64 || !p.stream || p.stream.length > 64 || !Number.isSafeInteger(seq) || seq < 1 || !p.type || p.type.length > 100) {
      throw new RefusalException('MALFORMED_PAYLOAD', 'delivery needs message_id (≤64), stream (≤64), seq ≥ 1 and type (≤100)', sender);
    }
    const msg: IncomingMessage = { sender, messageId: p.messageId, stream: p.stream, seq, type: p.type, body: Buffer.from(p.body), correlationId, replay };
    try {
      return await this.once(msg);
    } catch (e) {
      if (!(e instanceof DeliveryRejection)) throw e;
      // The handler refused: its writes went with the rolled-back transaction; store the refusal alone.
      return this.once(msg, e.reason);
    }
  }

  /** One transaction for the message; `rejected`: do not run the handler, answer REJECTED for this reason. */
  private async once(msg: IncomingMessage, rejected?: string): Promise<string> {
    try {
      const receipt = await runInTransaction(this.ds, (tx) => this.apply(tx, msg, rejected));
      msg.replay?.committed();
      return receipt;
    } catch (e) {
      // A concurrent duplicate (another replica) committed first: answer with its receipt.
      if (isUniqueViolation(e)) {
        const stored = await this.ds.getRepository(InboxMessageEntity).findOneBy({ sender: msg.sender, messageId: msg.messageId });
        if (stored) {
          // Our envelope's id went with the rolled-back transaction: it is remembered before answering.
          if (msg.replay && !(await msg.replay.rememberAlone())) throw msg.replay.refusal();
          return stored.receipt;
        }
      }
      throw e;
    }
  }

  private async apply(tx: EntityManager, m: IncomingMessage, rejected?: string): Promise<string> {
    // Whether the message was seen, and where its stream stands, in one round trip (on PostgreSQL
    // with the insert of the envelope's id into the replay store).
    const read = `SELECT (SELECT receipt FROM inbox_messages WHERE sender = :sender AND message_id = :messageId) AS receipt,
              (SELECT MAX(seq) FROM inbox_messages WHERE sender = :sender AND stream = :stream) AS max`;
    const params = { sender: m.sender, messageId: m.messageId, stream: m.stream };
    type Seen = { receipt: string | null; max: number | string | null };
    let seen: Seen | undefined;
    if (m.replay) {
      const row = await m.replay.rememberWith<Seen>(tx, read, params);
      if (!row) throw m.replay.refusal();
      seen = row;
    } else {
      const [sql, values] = tx.connection.driver.escapeQueryWithParameters(read, params, {});
      [seen] = await tx.query<Seen[]>(sql, values);
    }
    if (seen?.receipt) return seen.receipt;
    const expected = Number(seen?.max ?? 0) + 1;
    if (m.seq > expected) throw new RefusalException('OUT_OF_ORDER', `stream ${m.stream} expects seq ${expected} before ${m.seq}`, m.sender);
    let status: ReceiptClaims['sta'] = 'ACCEPTED';
    let reason: string | undefined;
    if (m.seq < expected) {
      status = 'REJECTED';
      reason = `seq ${m.seq} of stream ${m.stream} was already used by another message`;
    } else if (rejected !== undefined) {
      status = 'REJECTED';
      reason = rejected;
    } else {
      const handler = this.handlers.get(m.type);
      if (!handler) {
        status = 'REJECTED';
        reason = `no handler for ${m.type}`;
      } else {
        // In the inbox transaction itself (no savepoint): a DeliveryRejection rolls all of it
        // back, and receive() stores the REJECTED receipt in a transaction of its own.
        await handler(tx, m);
      }
    }
    const claims = receiptClaims(this.self, m, status, reason, this.clock.epochSeconds(), this.federation?.envelopeDigest);
    const receipt = this.keys.signJws(RECEIPT_TYP, claims);
    // Kept for the commit with the handler's own kept writes (on PostgreSQL one statement); a
    // concurrent duplicate's unique violation still fails the commit and answers in once().
    pendingWrites(tx).insert(InboxMessageEntity, { sender: m.sender, messageId: m.messageId, stream: m.stream, seq: m.seq, type: m.type, receivedAt: this.clock.now(), receipt });
    if (status === 'REJECTED') this.logger.warn(correlated(`rejected ${m.type} ${m.messageId} from ${m.sender}: ${reason}`, m.correlationId));
    else this.logger.debug(correlated(`accepted ${m.type} ${m.messageId} (stream ${m.stream} #${m.seq}) from ${m.sender}`, m.correlationId));
    return receipt;
  }
}
