import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/**
 * Lifecycle of one of this gateway's own signing keys: NEXT (published and announced, not yet
 * signing; `activated_at` is when it will) → ACTIVE (signing) → RETIRED (only checks old
 * attestations) — or REVOKED at any point (compromise; checks nothing).
 */
export type SigningKeyStatus = 'NEXT' | 'ACTIVE' | 'RETIRED' | 'REVOKED';

/** One of this gateway's own signing keys; the private half is only ever stored encrypted. */
@Entity('signing_keys')
export class SigningKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) kid: string;
  @Column({ type: 'varchar', length: 16 }) alg: string;
  @Column({ name: 'public_jwk', type: 'text' }) publicJwk: string;
  @Column({ name: 'private_key_enc', type: 'text' }) privateKeyEnc: string;
  /** Id of the key-encryption secret `private_key_enc` is sealed under (kekIdOf); null when written by an earlier release. */
  @Column({ name: 'kek_id', type: 'varchar', length: 32, nullable: true }) kekId?: string | null;
  @Column({ type: 'varchar', length: 16 }) status: SigningKeyStatus;
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs }) createdAt: Date;
  @Column({ name: 'activated_at', type: 'bigint', nullable: true, transformer: epochMs }) activatedAt: Date | null;
  @Column({ name: 'retired_at', type: 'bigint', nullable: true, transformer: epochMs }) retiredAt: Date | null;
  @Column({ name: 'revoked_at', type: 'bigint', nullable: true, transformer: epochMs }) revokedAt: Date | null;
  @Column({ name: 'revocation_reason', type: 'varchar', length: 200, nullable: true }) revocationReason: string | null;
}
