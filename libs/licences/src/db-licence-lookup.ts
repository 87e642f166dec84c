import { Injectable } from '@nestjs/common';
import { DataSource, Repository } from 'typeorm';
import { LicenceEntity } from './licence.entity';
import { LicenceLookup } from './licence-lookup';
import { LicenceRecord } from './licence-record';

/** LicenceLookup over the gateway's own `licences` table. */
@Injectable()
export class DbLicenceLookup extends LicenceLookup {
  private readonly repo: Repository<LicenceEntity>;

  constructor(ds: DataSource) {
    super();
    this.repo = ds.getRepository(LicenceEntity);
  }

  // Plain indexed statements: these run once per verification, where the query builder's cost
  // exceeds the lookup's (measured with bench:verify's profiles).
  async findById(licenceId: string): Promise<LicenceRecord | null> {
    return first(await this.repo.manager.query(`${SELECT} WHERE licence_id = ${this.p(1)}`, [licenceId]));
  }

  async findByNumber(typeCode: string, number: string): Promise<LicenceRecord | null> {
    return first(await this.repo.manager.query(`${SELECT} WHERE type_code = ${this.p(1)} AND number = ${this.p(2)}`, [typeCode, number]));
  }

  private p(n: number): string {
    return this.repo.manager.connection.options.type === 'postgres' ? `$${n}` : '?';
  }
}

const SELECT = `SELECT licence_id AS "licenceId", type_code AS "typeCode", name, number, issuer_organ_name AS "issuerOrganName",
  issuer_organ_code AS "issuerOrganCode", holder_name AS "holderName", holder_code AS "holderCode", holder_code_type AS "holderCodeType",
  issue_date AS "issueDate", valid_from AS "validFrom", valid_until AS "validUntil", status, jurisdiction_code AS "jurisdictionCode"
  FROM licences`;

function first(rows: LicenceRecord[]): LicenceRecord | null {
  return rows[0] ?? null;
}
