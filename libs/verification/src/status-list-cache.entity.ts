import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** The newest status list fetched from an issuer (asker side): what attestation checks answer from. */
@Entity('status_list_cache')
export class StatusListCacheEntity {
  @PrimaryColumn({ type: 'varchar', length: 16 }) issuer: string;
  @PrimaryColumn({ name: 'list_id', type: 'varchar', length: 32 }) listId: string;
  @Column({ type: 'integer' }) version: number;
  /** The list's `iat`: the instant its facts are true as of. */
  @Column({ name: 'issued_at', type: 'bigint', transformer: epochMs }) issuedAt: Date;
  @Column({ name: 'fetched_at', type: 'bigint', transformer: epochMs }) fetchedAt: Date;
  @Column({ type: 'text' }) jws: string;
}
