import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** Asker side: every verification of this licence type by this client subscribes, as if it said `notify: true`. */
@Entity('notice_standing_subscriptions')
export class StandingSubscriptionEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) id: string;
  @Column({ type: 'varchar', length: 100 }) client: string;
  @Column({ name: 'licence_type', type: 'varchar', length: 21 }) licenceType: string;
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs }) createdAt: Date;
}
