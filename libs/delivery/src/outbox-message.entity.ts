import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** PENDING: to send; DELIVERED: receipt stored; DEAD: parked (see DeadReason), holding back the rest of its stream. */
export type OutboxStatus = 'PENDING' | 'DELIVERED' | 'DEAD';

/** FAILURES: the same non-transient failure `deadAfterFailures` times in a row; AGE: past the dead-letter age. */
export type DeadReason = 'FAILURES' | 'AGE';

/** A message committed with the state change that caused it, waiting to reach a peer. */
@Entity('outbox_messages')
export class OutboxMessageEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) id: string;
  @Column({ type: 'varchar', length: 6 }) peer: string;
  @Column({ type: 'varchar', length: 64 }) stream: string;
  @Column({ type: 'integer' }) seq: number;
  @Column({ type: 'varchar', length: 100 }) type: string;
  /** base64 of the protobuf body. */
  @Column({ type: 'text' }) body: string;
  @Column({ type: 'varchar', length: 16 }) status: OutboxStatus;
  @Column({ type: 'integer', default: 0 }) attempts: number;
  @Column({ name: 'next_attempt_at', type: 'bigint', transformer: epochMs }) nextAttemptAt: Date;
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs }) createdAt: Date;
  @Column({ name: 'delivered_at', type: 'bigint', nullable: true, transformer: epochMs }) deliveredAt: Date | null;
  @Column({ type: 'text', nullable: true }) receipt: string | null;
  @Column({ name: 'last_error', type: 'varchar', length: 300, nullable: true }) lastError: string | null;
  @Column({ name: 'lease_owner', type: 'varchar', length: 64, nullable: true }) leaseOwner: string | null;
  @Column({ name: 'lease_until', type: 'bigint', nullable: true, transformer: epochMs }) leaseUntil: Date | null;
  /** Key the envelope must be signed with (key announcements); null = the active key. */
  @Column({ name: 'sign_kid', type: 'varchar', length: 64, nullable: true }) signKid: string | null;
  /** Correlation id of the request that caused the message (sent as x-correlation-id); null: none. */
  @Column({ name: 'correlation_id', type: 'varchar', length: 64, nullable: true }) correlationId: string | null;
  /** Kind of the last non-transient failure (see classifyDeliveryFailure); null: none since the last success or re-queue. */
  @Column({ name: 'failure_code', type: 'varchar', length: 64, nullable: true }) failureCode: string | null;
  /** How many attempts in a row failed with `failureCode` (transient failures neither count nor reset it). */
  @Column({ name: 'failure_count', type: 'integer', default: 0 }) failureCount: number;
  @Column({ name: 'dead_reason', type: 'varchar', length: 16, nullable: true }) deadReason: DeadReason | null;
}
