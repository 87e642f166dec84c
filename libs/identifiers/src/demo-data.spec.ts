import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkCitizenId } from './citizen-id';
import { checkCreditCode, creditCodeRegion, provinceOfCreditCode } from './credit-code';
import { checkLicenceId, parseLicenceId } from './licence-id';
import { provinceCodeOf } from './province';

// Guards deploy/demo/ (written by scripts/gen-demo-data.js, which carries its own copies of the
// check-character functions) against drifting from this library.
const DEMO_DIR = path.join(__dirname, '../../../deploy/demo');
const PROVINCES = ['110000', '130000', '440000'];
const FIELDS = [
  'licenceId',
  'typeCode',
  'name',
  'number',
  'issuerOrganName',
  'issuerOrganCode',
  'holderName',
  'holderCode',
  'holderCodeType',
  'issueDate',
  'validFrom',
  'validUntil',
  'status',
  'jurisdictionCode',
];
const TYPES: Record<string, { name: string; holderCodeType: string }> = {
  '11100000000013338W009': { name: '营业执照', holderCodeType: '001' },
  '11100000000013338W011': { name: '结婚证', holderCodeType: '111' },
  '11100000000013338W020': { name: '驾驶证', holderCodeType: '111' },
  '11100000000013338W031': { name: '不动产权证书', holderCodeType: '111' },
};
const DATE = /^\d{4}-\d{2}-\d{2}$/;

interface DemoLicence {
  licenceId: string;
  typeCode: string;
  name: string;
  number: string;
  issuerOrganName: string;
  issuerOrganCode: string;
  holderName: string;
  holderCode: string;
  holderCodeType: '111' | '001';
  issueDate: string;
  validFrom: string;
  validUntil: string | null;
  status: 'VALID' | 'SUSPENDED' | 'REVOKED';
  jurisdictionCode: string;
}

const load = (province: string): DemoLicence[] => JSON.parse(readFileSync(path.join(DEMO_DIR, `licences-${province}.json`), 'utf8')) as DemoLicence[];
const today = new Date().toISOString().slice(0, 10);
const isExpired = (r: DemoLicence) => r.validUntil !== null && r.validUntil < today;

describe.each(PROVINCES)('deploy/demo/licences-%s.json', (province) => {
  const records = load(province);

  it('holds about a dozen records with exactly the agreed fields', () => {
    expect(records.length).toBeGreaterThanOrEqual(10);
    for (const r of records) expect(Object.keys(r)).toEqual(FIELDS);
  });

  it('has valid GB/T 36904 licence identifiers consistent with their type and issuer fields', () => {
    for (const r of records) {
      expect(checkLicenceId(r.licenceId)).toEqual({ ok: true, value: r.licenceId });
      const parts = parseLicenceId(r.licenceId);
      expect(parts.typeCode).toBe(r.typeCode);
      expect(parts.issuerCode).toBe(r.issuerOrganCode);
      expect(r.number).toContain(parts.serial);
      expect(TYPES[r.typeCode]?.name).toBe(r.name);
    }
  });

  it('has issuers with valid GB 32100 codes registered in this province and matching the jurisdiction', () => {
    for (const r of records) {
      expect(checkCreditCode(r.issuerOrganCode).ok).toBe(true);
      expect(provinceOfCreditCode(r.issuerOrganCode)).toBe(province);
      expect(creditCodeRegion(r.issuerOrganCode)).toBe(r.jurisdictionCode);
      expect(provinceCodeOf(r.jurisdictionCode)).toBe(province);
    }
  });

  it('has holder codes that pass the check for their declared code type', () => {
    for (const r of records) {
      expect(r.holderCodeType).toBe(TYPES[r.typeCode].holderCodeType);
      const check = r.holderCodeType === '111' ? checkCitizenId(r.holderCode) : checkCreditCode(r.holderCode);
      expect(check).toEqual({ ok: true, value: r.holderCode });
    }
  });

  it('has well-formed, ordered dates and known statuses', () => {
    for (const r of records) {
      expect(r.issueDate).toMatch(DATE);
      expect(r.validFrom).toMatch(DATE);
      expect(r.validFrom >= r.issueDate).toBe(true);
      if (r.validUntil !== null) {
        expect(r.validUntil).toMatch(DATE);
        expect(r.validUntil > r.validFrom).toBe(true);
      }
      expect(['VALID', 'SUSPENDED', 'REVOKED']).toContain(r.status);
    }
  });

  it('covers every status kind: VALID in date, EXPIRED, SUSPENDED and REVOKED', () => {
    expect(records.filter((r) => r.status === 'VALID' && !isExpired(r)).length).toBeGreaterThanOrEqual(6);
    expect(records.filter((r) => r.status === 'VALID' && isExpired(r)).length).toBeGreaterThanOrEqual(2);
    expect(records.some((r) => r.status === 'SUSPENDED')).toBe(true);
    expect(records.some((r) => r.status === 'REVOKED')).toBe(true);
  });
});

describe('deploy/demo as a whole', () => {
  const all = PROVINCES.flatMap(load);

  it('never repeats a licence identifier across provinces', () => {
    expect(new Set(all.map((r) => r.licenceId)).size).toBe(all.length);
  });

  it('lists in README.md only licence identifiers that exist in the data files', () => {
    const readme = readFileSync(path.join(DEMO_DIR, 'README.md'), 'utf8');
    const listed = readme.match(/1\.2\.156\.3005\.2\.[0-9A-Z.]+/g) ?? [];
    expect(listed.length).toBe(PROVINCES.length * 4);
    for (const id of listed) expect(all.some((r) => r.licenceId === id)).toBe(true);
  });
});
