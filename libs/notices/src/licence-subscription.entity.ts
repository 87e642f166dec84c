import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** Issuer side: a peer asked to be told when this licence's status changes. */
@Entity('licence_subscriptions')
export class LicenceSubscriptionEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) id: string;
  @Column({ type: 'varchar', length: 6 }) peer: string;
  /** The asker's opaque reference (LicenceQuery.notify_ref); names no person. */
  @Column({ name: 'notify_ref', type: 'varchar', length: 64 }) notifyRef: string;
  @Column({ name: 'licence_id', type: 'varchar', length: 128 }) licenceId: string;
  @Column({ name: 'licence_type', type: 'varchar', length: 21 }) licenceType: string;
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs }) createdAt: Date;
  @Column({ name: 'expires_at', type: 'bigint', transformer: epochMs }) expiresAt: Date;
}
