import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** PENDING: to push; DELIVERED: the peer's signed receipt is stored; DEAD: parked after the dead-letter age. */
export type TransferStatus = 'PENDING' | 'DELIVERED' | 'DEAD';

/** One material to push to one participant, queued in the transaction that stored the material. */
@Entity('material_transfers')
export class MaterialTransferEntity {
  /** The material's `storage_id`; at the sender it equals the material id (uploads keep their id as key). */
  @PrimaryColumn({ name: 'material_id', type: 'varchar', length: 64 }) materialId: string;
  @PrimaryColumn({ type: 'varchar', length: 6 }) peer: string;
  @Column({ type: 'varchar', length: 16 }) status: TransferStatus;
  @Column({ type: 'integer', default: 0 }) attempts: number;
  @Column({ name: 'next_attempt_at', type: 'bigint', transformer: epochMs }) nextAttemptAt: Date;
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs }) createdAt: Date;
  @Column({ name: 'delivered_at', type: 'bigint', nullable: true, transformer: epochMs }) deliveredAt: Date | null;
  @Column({ name: 'last_error', type: 'varchar', length: 300, nullable: true }) lastError: string | null;
  /** JSON `{jws, payload}`: the peer's signed response envelope (payload base64), kept as proof of receipt. */
  @Column({ type: 'text', nullable: true }) receipt: string | null;
  @Column({ name: 'lease_owner', type: 'varchar', length: 64, nullable: true }) leaseOwner: string | null;
  @Column({ name: 'lease_until', type: 'bigint', nullable: true, transformer: epochMs }) leaseUntil: Date | null;
}
