import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** ACTIVE keys sign new messages; RETIRED keys still check old attestations; REVOKED keys check nothing. */
export type PeerKeyStatus = 'ACTIVE' | 'RETIRED' | 'REVOKED';

/** A public key we trust for one peer. */
@Entity('peer_keys')
export class PeerKeyEntity {
  @PrimaryColumn({ name: 'peer_code', type: 'varchar', length: 6 }) peerCode: string;
  @PrimaryColumn({ type: 'varchar', length: 64 }) kid: string;
  @Column({ type: 'varchar', length: 16 }) alg: string;
  @Column({ name: 'public_jwk', type: 'text' }) publicJwk: string;
  @Column({ type: 'varchar', length: 16 }) status: PeerKeyStatus;
  @Column({ name: 'added_at', type: 'bigint', transformer: epochMs }) addedAt: Date;
  @Column({ name: 'retired_at', type: 'bigint', nullable: true, transformer: epochMs }) retiredAt: Date | null;
  /** RETIRED keys only: envelopes signed with it are still accepted until then (a rotation the peer announced); null = not at all. */
  @Column({ name: 'envelopes_until', type: 'bigint', nullable: true, transformer: epochMs }) envelopesUntil?: Date | null;
}
