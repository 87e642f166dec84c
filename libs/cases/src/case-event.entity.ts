import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { epochMs, jsonText } from '@tongban/persistence';

/** One entry of a case's history, as this gateway learnt it. */
@Entity('case_events')
export class CaseEventEntity {
  @PrimaryGeneratedColumn('increment') seq: number;
  @Column({ name: 'case_id', type: 'varchar', length: 64 }) caseId: string;
  @Column({ type: 'bigint', transformer: epochMs }) at: Date;
  @Column({ type: 'varchar', length: 40 }) type: string;
  @Column({ type: 'varchar', length: 6 }) province: string;
  @Column({ type: 'varchar', length: 100 }) actor: string;
  @Column({ name: 'step_index', type: 'integer', nullable: true }) stepIndex: number | null;
  @Column({ name: 'details_json', type: 'text', nullable: true, transformer: jsonText }) details: Record<string, unknown> | null;
}
