import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** One admin console session. The cookie holds the session id; only its SHA-256 is stored. */
@Entity('console_sessions')
export class ConsoleSessionEntity {
  @PrimaryColumn({ name: 'id_hash', type: 'varchar', length: 64 }) idHash: string;
  /** The ADMIN client (its id, `bootstrap:admin` for the configured admin token) and its name when signing in. */
  @Column({ name: 'client_id', type: 'varchar', length: 64 }) clientId: string;
  @Column({ name: 'client_name', type: 'varchar', length: 64 }) clientName: string;
  @Column({ name: 'source_ip', type: 'varchar', length: 64 }) sourceIp: string;
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs }) createdAt: Date;
  /** Last use; the idle timeout runs from here. */
  @Column({ name: 'last_seen_at', type: 'bigint', transformer: epochMs }) lastSeenAt: Date;
  @Column({ name: 'absolute_expires_at', type: 'bigint', transformer: epochMs }) absoluteExpiresAt: Date;
}
