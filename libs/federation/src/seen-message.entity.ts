import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A message id accepted from a sender, kept until its expiry has passed (replay protection). */
@Entity('seen_messages')
export class SeenMessageEntity {
  @PrimaryColumn({ type: 'varchar', length: 6 }) sender: string;
  @PrimaryColumn({ name: 'message_id', type: 'varchar', length: 64 }) messageId: string;
  /** Epoch milliseconds after which the id may be forgotten. */
  @Column({ name: 'expires_at', type: 'bigint' }) expiresAt: number;
}
