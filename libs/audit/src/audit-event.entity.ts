import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/**
 * One append-only audit row. Never holds raw personal data. `seq`, `prev_hash` and `hash` are
 * assigned by AuditLog inside the appending transaction (never by the column's own sequence);
 * the database refuses UPDATE and DELETE (triggers, see docs/audit.md).
 */
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
  /** Hash of the previous entry (64 zeros for the first). */
  @Column({ name: 'prev_hash', type: 'varchar', length: 64, nullable: true }) prevHash: string | null;
  /** SHA-256 (or SM3, see `hashAlg`) over this entry and `prevHash` (see audit-chain.ts). */
  @Column({ type: 'varchar', length: 64, nullable: true }) hash: string | null;
  /** The hash of this entry: null = SHA-256, `SM3` (TONGBAN_AUDIT_HASH). */
  @Column({ name: 'hash_alg', type: 'varchar', length: 8, nullable: true }) hashAlg: string | null;
}
