import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** One published status list of this issuer (docs/protocol-status.md). */
@Entity('status_lists')
export class StatusListEntity {
  @PrimaryColumn({ name: 'list_id', type: 'varchar', length: 32 }) listId: string;
  @Column({ name: 'type_code', type: 'varchar', length: 21 }) typeCode: string;
  /** n of `<typeCode>-<n>`. */
  @Column({ type: 'integer' }) seq: number;
  @Column({ type: 'integer' }) size: number;
  /** Indexes handed out so far (the list takes new licences while under half full). */
  @Column({ type: 'integer' }) assigned: number;
  /** Content version; +1 whenever the signed content changes. */
  @Column({ type: 'integer' }) version: number;
  /** SHA-256 (hex) of the last signed content (encodedList and changes). */
  @Column({ name: 'content_hash', type: 'varchar', length: 64, nullable: true }) contentHash: string | null;
  @Column({ type: 'text', nullable: true }) jws: string | null;
  @Column({ name: 'generated_at', type: 'bigint', nullable: true, transformer: epochMs }) generatedAt: Date | null;
  /** A status in the list changed since it was last signed. */
  @Column({ type: 'boolean' }) dirty: boolean;
}
