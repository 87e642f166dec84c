import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** PENDING: to send; DELIVERED: a 2xx answer; DEAD: given up (attempts or age), or webhook deleted. */
export type WebhookDeliveryStatus = 'PENDING' | 'DELIVERED' | 'DEAD';

/** One event for one webhook, written in the transaction that recorded the event. */
@Entity('webhook_deliveries')
export class WebhookDeliveryEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) id: string;
  @Column({ name: 'webhook_id', type: 'varchar', length: 64 }) webhookId: string;
  @Column({ name: 'event_type', type: 'varchar', length: 40 }) eventType: string;
  /** The exact JSON body sent (and signed) on every attempt. */
  @Column({ type: 'text' }) body: string;
  @Column({ type: 'varchar', length: 16 }) status: WebhookDeliveryStatus;
  /** Requests made so far, the successful one included. */
  @Column({ type: 'integer', default: 0 }) attempts: number;
  @Column({ name: 'next_attempt_at', type: 'bigint', transformer: epochMs }) nextAttemptAt: Date;
  /** HTTP status of the last answer (null: no answer). */
  @Column({ name: 'last_status', type: 'integer', nullable: true }) lastStatus: number | null;
  @Column({ name: 'last_error', type: 'varchar', length: 300, nullable: true }) lastError: string | null;
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs }) createdAt: Date;
  @Column({ name: 'delivered_at', type: 'bigint', nullable: true, transformer: epochMs }) deliveredAt: Date | null;
  @Column({ name: 'lease_owner', type: 'varchar', length: 64, nullable: true }) leaseOwner: string | null;
  @Column({ name: 'lease_until', type: 'bigint', nullable: true, transformer: epochMs }) leaseUntil: Date | null;
}
