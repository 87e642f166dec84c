import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** Why a local subscription exists: a verification with `notify: true`, or a standing subscription of its type. */
export type SubscriptionOrigin = 'VERIFICATION' | 'STANDING';

/** Asker side: a local client wants to hear of changes to a licence of another province. */
@Entity('notice_subscriptions')
export class NoticeSubscriptionEntity {
  /** Also the notify_ref sent to the issuer. */
  @PrimaryColumn({ type: 'varchar', length: 64 }) id: string;
  /** The API client that asked (webhooks of this client get the notices). */
  @Column({ type: 'varchar', length: 100 }) client: string;
  @Column({ type: 'varchar', length: 6 }) issuer: string;
  @Column({ name: 'licence_id', type: 'varchar', length: 128 }) licenceId: string;
  @Column({ name: 'licence_type', type: 'varchar', length: 21 }) licenceType: string;
  @Column({ type: 'varchar', length: 16 }) origin: SubscriptionOrigin;
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs }) createdAt: Date;
  /** As the issuer answered: no notices are expected after it. */
  @Column({ name: 'expires_at', type: 'bigint', transformer: epochMs }) expiresAt: Date;
  /** Newest notice version applied (0: none yet); an older or equal one is ignored. */
  @Column({ name: 'last_version', type: 'integer', default: 0 }) lastVersion: number;
  @Column({ name: 'last_status', type: 'varchar', length: 16, nullable: true }) lastStatus: string | null;
  @Column({ name: 'last_changed_at', type: 'bigint', nullable: true, transformer: epochMs }) lastChangedAt: Date | null;
}
