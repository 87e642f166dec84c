import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/**
 * A case material file held here: uploaded at this (accepting) gateway or pushed by it. A material id
 * is chosen by the gateway that sends it, so it is unique only per (case, origin): the row's own key
 * is `storageId` (chunks and transfers hang on it), and one origin cannot take an id in a case it
 * does not own (the receiver only accepts pushes from the case's accepting gateway).
 */
@Entity('case_materials')
@Index('ux_case_materials_case_origin_id', ['caseId', 'origin', 'id'], { unique: true })
export class CaseMaterialEntity {
  /** This gateway's key of the row (equal to `id` for an upload here; a fresh UUID for a received file). */
  @PrimaryColumn({ name: 'storage_id', type: 'varchar', length: 64 }) storageId: string;
  /** The material id as its origin named it (shown in the API, the header and the receipt). */
  @Column({ type: 'varchar', length: 64 }) id: string;
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
