import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs, jsonText } from '@tongban/persistence';

/** A local system's subscription to case events. */
@Entity('webhooks')
export class WebhookEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) id: string;
  @Column({ type: 'varchar', length: 2000 }) url: string;
  /** Event types (exact, or a prefix ending in `*`; `*` = all). */
  @Column({ type: 'text', transformer: jsonText }) events: string[];
  /**
   * Legacy plaintext HMAC key: empty once sealed (the gateway seals old rows at start). Never
   * returned or logged.
   */
  @Column({ type: 'varchar', length: 200 }) secret: string;
  /** The HMAC key of the signature header, sealed (SecretSealer, purpose `webhook`); shown in clear once, at creation. */
  @Column({ name: 'secret_sealed', type: 'text', nullable: true }) secretSealed: string | null;
  /** Id of the key-encryption secret `secret_sealed` is sealed under (kekIdOf); null when written by an earlier release. */
  @Column({ name: 'kek_id', type: 'varchar', length: 32, nullable: true }) kekId?: string | null;
  @Column({ name: 'created_by', type: 'varchar', length: 100 }) createdBy: string;
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs }) createdAt: Date;
}
