import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** One append-only audit row. Never holds raw personal data. */
@Entity('audit_events')
export class AuditEventEntity {
  @PrimaryGeneratedColumn('increment') seq: number;
  @Column({ type: 'bigint', transformer: epochMs }) at: Date;
  @Column({ type: 'varchar', length: 64 }) event: string;
  @Column({ type: 'varchar', length: 64 }) actor: string;
  @Column({ type: 'varchar', length: 256 }) subject: string;
  @Column({ type: 'varchar', length: 16 }) outcome: string;
  @Column({ type: 'varchar', length: 64, nullable: true }) reason: string | null;
  @Column({ name: 'message_id', type: 'varchar', length: 64, nullable: true }) messageId: string | null;
  @Column({ type: 'text', nullable: true }) details: string | null;
}
