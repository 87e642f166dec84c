import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from '@tongban/persistence';

/** A licence issued in this province (GB/T 36903-style metadata). */
@Entity('licences')
export class LicenceEntity {
  @PrimaryColumn({ name: 'licence_id', type: 'varchar', length: 128 }) licenceId: string;
  @Column({ name: 'type_code', type: 'varchar', length: 21 }) typeCode: string;
  @Column({ type: 'varchar', length: 100 }) name: string;
  @Column({ type: 'varchar', length: 64 }) number: string;
  @Column({ name: 'issuer_organ_name', type: 'varchar', length: 200 }) issuerOrganName: string;
  @Column({ name: 'issuer_organ_code', type: 'varchar', length: 18 }) issuerOrganCode: string;
  @Column({ name: 'holder_name', type: 'varchar', length: 200 }) holderName: string;
  @Column({ name: 'holder_code', type: 'varchar', length: 18 }) holderCode: string;
  @Column({ name: 'holder_code_type', type: 'varchar', length: 3 }) holderCodeType: '111' | '001';
  @Column({ name: 'issue_date', type: 'varchar', length: 10 }) issueDate: string;
  @Column({ name: 'valid_from', type: 'varchar', length: 10 }) validFrom: string;
  @Column({ name: 'valid_until', type: 'varchar', length: 10, nullable: true }) validUntil: string | null;
  @Column({ type: 'varchar', length: 16 }) status: 'VALID' | 'SUSPENDED' | 'REVOKED';
  @Column({ name: 'jurisdiction_code', type: 'varchar', length: 6 }) jurisdictionCode: string;
  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs }) updatedAt: Date;
}
