import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs, jsonText } from '@tongban/persistence';

/** A working-day calendar (holiday file) version an administrator loaded; immutable once stored. */
@Entity('calendar_versions')
export class CalendarVersionEntity {
  @PrimaryColumn({ type: 'varchar', length: 40 }) version: string;
  /** The validated holiday file as loaded. */
  @Column({ type: 'text', transformer: jsonText }) content: object;
  /** The newest `loaded_at` is the current version, on every replica. */
  @Column({ name: 'loaded_at', type: 'bigint', transformer: epochMs }) loadedAt: Date;
  @Column({ name: 'loaded_by', type: 'varchar', length: 64 }) loadedBy: string;
}
