import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** A case material file held here: uploaded at this (accepting) gateway or pushed by a participant. */
@Entity('case_materials')
export class CaseMaterialEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) id: string;
  @Column({ name: 'case_id', type: 'varchar', length: 64 }) caseId: string;
  /** A material code of the case's (frozen) catalogue item. */
  @Column({ type: 'varchar', length: 60 }) code: string;
  @Column({ type: 'varchar', length: 200 }) name: string;
  @Column({ name: 'media_type', type: 'varchar', length: 100 }) mediaType: string;
  @Column({ type: 'integer' }) size: number;
  /** Lower-case hex SHA-256 of the whole file, re-checked on every read. */
  @Column({ type: 'varchar', length: 64 }) sha256: string;
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs }) createdAt: Date;
  /** The province the file came from (our own code for an upload here). */
  @Column({ type: 'varchar', length: 6 }) origin: string;
}
