import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs, jsonText } from '@tongban/persistence';

/**
 * WAITING → ASSIGNED → (ACCEPTED | MATERIALS_REQUESTED)* → COMPLETED | REFUSED;
 * any open step becomes CANCELLED when the case is cancelled.
 */
export type StepStatus = 'WAITING' | 'ASSIGNED' | 'ACCEPTED' | 'MATERIALS_REQUESTED' | 'COMPLETED' | 'REFUSED' | 'CANCELLED';

/** Steps in these statuses are a task for the performing province. */
export const OPEN_STEP: StepStatus[] = ['ASSIGNED', 'ACCEPTED', 'MATERIALS_REQUESTED'];

/** The fields of a step nobody has worked on yet (a new row, at the owner or at a replica). */
export const UNWORKED_STEP = { dueAtProvisional: false, acceptedAt: null, finishedAt: null, actor: null, inputs: null, outputs: null, reason: null } as const;

/** One step of a case's workflow, performed by the province bound to its role. */
@Entity('case_steps')
export class CaseStepEntity {
  @PrimaryColumn({ name: 'case_id', type: 'varchar', length: 64 }) caseId: string;
  @PrimaryColumn({ type: 'integer' }) idx: number;
  @Column({ type: 'varchar', length: 30 }) role: string;
  @Column({ type: 'varchar', length: 6 }) province: string;
  @Column({ type: 'varchar', length: 40 }) action: string;
  @Column({ type: 'varchar', length: 100 }) name: string;
  @Column({ name: 'time_limit_days', type: 'integer' }) timeLimitDays: number;
  @Column({ type: 'varchar', length: 24 }) status: StepStatus;
  @Column({ name: 'assigned_at', type: 'bigint', nullable: true, transformer: epochMs }) assignedAt: Date | null;
  @Column({ name: 'due_at', type: 'bigint', nullable: true, transformer: epochMs }) dueAt: Date | null;
  /** The deadline was computed past the end of the working-day calendar (holidays there unknown). */
  @Column({ name: 'due_at_provisional', type: 'boolean', default: false }) dueAtProvisional: boolean;
  @Column({ name: 'accepted_at', type: 'bigint', nullable: true, transformer: epochMs }) acceptedAt: Date | null;
  @Column({ name: 'finished_at', type: 'bigint', nullable: true, transformer: epochMs }) finishedAt: Date | null;
  @Column({ type: 'varchar', length: 100, nullable: true }) actor: string | null;
  @Column({ name: 'inputs_json', type: 'text', nullable: true, transformer: jsonText }) inputs: Record<string, string> | null;
  @Column({ name: 'outputs_json', type: 'text', nullable: true, transformer: jsonText }) outputs: Record<string, string> | null;
  @Column({ type: 'varchar', length: 500, nullable: true }) reason: string | null;
}
