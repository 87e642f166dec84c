import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** Id of the single row of `directory_state`. */
export const DIRECTORY_STATE_ID = 1;

const bigintNumber = {
  to: (v: number | null | undefined) => v,
  from: (v: string | number | null) => (v == null ? null : Number(v)),
};

/**
 * The last directory applied to the trust store (one row, written by the migration): its serial
 * (rollback protection) and the signed JWS itself, so a restart keeps serving from the last good
 * copy when the source cannot be reached.
 */
@Entity('directory_state')
export class DirectoryStateEntity {
  @PrimaryColumn({ type: 'integer' }) id: number;
  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber }) serial: number | null;
  @Column({ type: 'text', nullable: true }) jws: string | null;
  @Column({ name: 'applied_at', type: 'bigint', nullable: true, transformer: epochMs }) appliedAt: Date | null;
  @Column({ name: 'not_after', type: 'bigint', nullable: true, transformer: epochMs }) notAfter: Date | null;
}
