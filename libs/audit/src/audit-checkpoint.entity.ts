import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** The audit chain head `(seq, hash)` signed by this gateway's key at `at`; append-only. */
@Entity('audit_checkpoints')
export class AuditCheckpointEntity {
  /** The last audit seq the checkpoint covers. */
  @PrimaryColumn({ type: 'integer' }) seq: number;
  @Column({ type: 'varchar', length: 64 }) hash: string;
  @Column({ type: 'bigint', transformer: epochMs }) at: Date;
  /** Compact JWS, typ `tongban-audit-checkpoint+jwt`, claims {iss, seq, hash, at}. */
  @Column({ type: 'text' }) signature: string;
  @Column({ type: 'varchar', length: 64 }) kid: string;
}
