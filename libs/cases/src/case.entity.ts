import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs, jsonText } from '@tongban/persistence';

/** OPEN until one final state: COMPLETED, REFUSED or CANCELLED. */
export type CaseState = 'OPEN' | 'COMPLETED' | 'REFUSED' | 'CANCELLED';

/** A cross-province case: the owner's record (owner = this gateway) or a participant's replica. */
@Entity('cases')
export class CaseEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) id: string;
  @Column({ name: 'collaboration_id', type: 'varchar', length: 64, unique: true }) collaborationId: string;
  @Column({ name: 'item_code', type: 'varchar', length: 40 }) itemCode: string;
  @Column({ name: 'item_version', type: 'varchar', length: 40 }) itemVersion: string;
  /** The catalogue item as it was when the case opened; the case follows this workflow to the end. */
  @Column({ name: 'item_json', type: 'text', transformer: jsonText }) item: import('./case-item').CaseItem;
  @Column({ type: 'varchar', length: 16 }) mode: string;
  @Column({ type: 'varchar', length: 6 }) owner: string;
  @Column({ type: 'varchar', length: 16 }) state: CaseState;
  @Column({ type: 'text', transformer: jsonText }) participants: Record<string, string>;
  @Column({ name: 'applicant_name', type: 'varchar', length: 100 }) applicantName: string;
  /** Held only where a step of this province needs it (and at the owner). */
  @Column({ name: 'applicant_id_number', type: 'varchar', length: 18, nullable: true }) applicantIdNumber: string | null;
  @Column({ name: 'received_json', type: 'text', transformer: jsonText }) received: Record<string, unknown>;
  @Column({ name: 'materials_json', type: 'text', transformer: jsonText }) materials: Record<string, unknown>[];
  @Column({ name: 'current_step', type: 'integer' }) currentStep: number;
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs }) createdAt: Date;
  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs }) updatedAt: Date;
  @Column({ name: 'closed_at', type: 'bigint', nullable: true, transformer: epochMs }) closedAt: Date | null;
  @Column({ name: 'close_reason', type: 'varchar', length: 500, nullable: true }) closeReason: string | null;
  @Column({ name: 'refused_step', type: 'integer', nullable: true }) refusedStep: number | null;
}

/**
 * The SQL condition that picks, as `alias`, the case a reference names (it binds `:ref`): the case
 * whose local id it is, else the case whose collaboration id it is. Both columns are unique, so
 * it is two index probes, each run once, then a scan of the primary key. The plain
 * `alias.id = :ref OR alias.collaboration_id = :ref` made PostgreSQL plan a BitmapOr over both
 * indexes, a bitmap heap scan and a sort (0.345 ms of execution on bench data, against 0.044 ms
 * by id alone): the most expensive statement of a case on the server (docs/performance.md,
 * "Eleventh session").
 */
export function caseNamedBy(alias: string): string {
  return `${alias}.id = COALESCE((SELECT r.id FROM cases r WHERE r.id = :ref), (SELECT r.id FROM cases r WHERE r.collaboration_id = :ref))`;
}

/**
 * How a case is named: `'reference'` — its local id or its collaboration id, as a local caller may
 * (caseNamedBy); `'collaborationId'` — its collaboration id only, as a peer does (docs/protocol-cases.md
 * §2.6: peers never see local ids, so a local id from a peer names no case).
 */
export type CaseNaming = 'reference' | 'collaborationId';

/** The SQL condition that picks, as `alias`, the case `:ref` names under `naming`. */
export function caseNamed(alias: string, naming: CaseNaming): string {
  return naming === 'reference' ? caseNamedBy(alias) : `${alias}.collaboration_id = :ref`;
}
