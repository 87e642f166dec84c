import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs, jsonText } from '@tongban/persistence';

/** A service catalogue version an administrator loaded; versions are immutable once stored. */
@Entity('catalogue_versions')
export class CatalogueVersionEntity {
  @PrimaryColumn({ type: 'varchar', length: 40 }) version: string;
  /** The validated document as loaded. */
  @Column({ type: 'text', transformer: jsonText }) content: object;
  /** The newest `loaded_at` is the current version, on every replica. */
  @Column({ name: 'loaded_at', type: 'bigint', transformer: epochMs }) loadedAt: Date;
  @Column({ name: 'loaded_by', type: 'varchar', length: 64 }) loadedBy: string;
}
