import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** The current status of a licence whose status was changed through LicenceStatusService. */
@Entity('licence_status')
export class LicenceStatusEntity {
  @PrimaryColumn({ name: 'licence_id', type: 'varchar', length: 128 }) licenceId: string;
  @Column({ name: 'type_code', type: 'varchar', length: 21 }) typeCode: string;
  @Column({ type: 'varchar', length: 16 }) status: 'VALID' | 'SUSPENDED' | 'REVOKED';
  /** Grows by one per change; 1 after the first. */
  @Column({ type: 'integer' }) version: number;
  @Column({ name: 'changed_at', type: 'bigint', transformer: epochMs }) changedAt: Date;
  @Column({ type: 'varchar', length: 200 }) reason: string;
  @Column({ type: 'varchar', length: 16 }) source: 'registry' | 'library';
  @Column({ type: 'varchar', length: 64 }) actor: string;
}
