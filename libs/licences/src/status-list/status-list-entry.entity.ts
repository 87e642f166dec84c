import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The random index a licence holds in one status list (assigned at its first attestation). */
@Entity('status_list_entries')
export class StatusListEntryEntity {
  @PrimaryColumn({ name: 'licence_id', type: 'varchar', length: 128 }) licenceId: string;
  @Column({ name: 'list_id', type: 'varchar', length: 32 }) listId: string;
  @Column({ type: 'integer' }) idx: number;
}
