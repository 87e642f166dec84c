import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs, jsonText } from '@tongban/persistence';

/** Whether a peer may currently talk to us. */
export type PeerStatus = 'ACTIVE' | 'SUSPENDED';

/** A province gateway we know and how far we trust it. */
@Entity('peers')
export class PeerEntity {
  @PrimaryColumn({ type: 'varchar', length: 6 }) code: string;
  @Column({ type: 'varchar', length: 100 }) name: string;
  @Column({ type: 'varchar', length: 255 }) endpoint: string;
  @Column({ type: 'varchar', length: 16 }) status: PeerStatus;
  /** Licence type codes this peer may verify with us; `*` allows every type. */
  @Column({ name: 'allowed_licence_types', type: 'text', transformer: jsonText }) allowedLicenceTypes: string[];
  /** Service item codes this peer may route to us (cases); null or `*` allows every item. */
  @Column({ name: 'allowed_items', type: 'text', nullable: true, transformer: jsonText }) allowedItems: string[] | null;
  /** Case roles (catalogue role names) this peer may take in cases shared with us; null or `*` allows every role. */
  @Column({ name: 'allowed_roles', type: 'text', nullable: true, transformer: jsonText }) allowedRoles: string[] | null;
  /** Requests per second accepted from this peer (token bucket, burst = 2 s worth); null = unlimited. */
  @Column({ name: 'rate_limit_per_s', type: 'integer', nullable: true }) rateLimitPerSecond: number | null;
  /** JWS algorithms this peer must sign with (e.g. only SM2SM3); null = any on the gateway's allow-list. */
  @Column({ name: 'allowed_algs', type: 'text', nullable: true, transformer: jsonText }) allowedAlgs: string[] | null;
  /** Whether this peer may subscribe to licence status notices (docs/protocol-notices.md). */
  @Column({ name: 'allow_notices', type: 'boolean', default: true }) allowNotices: boolean;
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs }) createdAt: Date;
  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs }) updatedAt: Date;
}
