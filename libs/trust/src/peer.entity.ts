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
  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs }) createdAt: Date;
  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs }) updatedAt: Date;
}
