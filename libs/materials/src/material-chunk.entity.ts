import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Part `idx` of a material's bytes, base64 (TEXT keeps one migration for SQLite and PostgreSQL). */
@Entity('material_chunks')
export class MaterialChunkEntity {
  /** The material's `storage_id` (the column keeps its first name). */
  @PrimaryColumn({ name: 'material_id', type: 'varchar', length: 64 }) materialId: string;
  @PrimaryColumn({ type: 'integer' }) idx: number;
  @Column({ type: 'text' }) data: string;
}
