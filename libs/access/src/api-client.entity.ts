import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs, jsonText } from '@tongban/persistence';

/** A provincial system (SYSTEM, with scopes) or an administrator (ADMIN, with a role). */
@Entity('api_clients')
export class ApiClientEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) id: string;
  @Column({ type: 'varchar', length: 64, unique: true }) name: string;
  /** Hex SHA-256 of the bearer token; the token itself is shown once and never stored. */
  @Column({ name: 'token_hash', type: 'varchar', length: 64, unique: true }) tokenHash: string;
  @Column({ type: 'varchar', length: 8 }) kind: 'SYSTEM' | 'ADMIN';
  @Column({ type: 'text', transformer: jsonText }) scopes: string[];
  @Column({ type: 'varchar', length: 16, nullable: true }) role: 'admin' | 'operator' | 'auditor' | null;
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs }) createdAt: Date;
  @Column({ name: 'disabled_at', type: 'bigint', nullable: true, transformer: epochMs }) disabledAt: Date | null;
}
