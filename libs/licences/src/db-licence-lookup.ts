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

  async findById(licenceId: string): Promise<LicenceRecord | null> {
    return toRecord(await this.repo.findOneBy({ licenceId }));
  }

  async findByNumber(typeCode: string, number: string): Promise<LicenceRecord | null> {
    return toRecord(await this.repo.findOneBy({ typeCode, number }));
  }
}

function toRecord(e: LicenceEntity | null): LicenceRecord | null {
  if (!e) return null;
  const { updatedAt: _ignored, ...record } = e;
  return record;
}
