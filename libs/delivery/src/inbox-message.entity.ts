import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** A delivered message, applied once; its receipt is returned again on redelivery. */
@Entity('inbox_messages')
export class InboxMessageEntity {
  @PrimaryColumn({ type: 'varchar', length: 6 }) sender: string;
  @PrimaryColumn({ name: 'message_id', type: 'varchar', length: 64 }) messageId: string;
  @Column({ type: 'varchar', length: 64 }) stream: string;
  @Column({ type: 'integer' }) seq: number;
  @Column({ type: 'varchar', length: 100 }) type: string;
  @Column({ name: 'received_at', type: 'bigint', transformer: epochMs }) receivedAt: Date;
  @Column({ type: 'text' }) receipt: string;
}
