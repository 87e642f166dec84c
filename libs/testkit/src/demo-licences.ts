import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beijingDate } from '@tongban/common';
import { ROOT } from './federation';

/** A demo licence record (deploy/demo/licences-<code>.json). */
export interface DemoLicence {
  licenceId: string;
  typeCode: string;
  name: string;
  number: string;
  issuerOrganName: string;
  issuerOrganCode: string;
  holderName: string;
  holderCode: string;
  holderCodeType: '111' | '001';
  validFrom: string;
  validUntil: string | null;
  status: 'VALID' | 'SUSPENDED' | 'REVOKED';
}

/** The demo licences of one province. */
export function demoLicences(code: string): DemoLicence[] {
  return JSON.parse(readFileSync(join(ROOT, 'deploy', 'demo', `licences-${code}.json`), 'utf8')) as DemoLicence[];
}

/** One demo licence of the given kind; EXPIRED = VALID on record but past its validity. */
export function demoLicence(code: string, kind: 'VALID' | 'EXPIRED' | 'SUSPENDED' | 'REVOKED'): DemoLicence {
  const today = beijingDate(new Date());
  const found = demoLicences(code).find((l) =>
    kind === 'EXPIRED'
      ? l.status === 'VALID' && !!l.validUntil && l.validUntil < today
      : kind === 'VALID'
        ? l.status === 'VALID' && l.validFrom <= today && (!l.validUntil || l.validUntil >= today)
        : l.status === kind,
  );
  if (!found) throw new Error(`no ${kind} demo licence for ${code}`);
  return found;
}

/** Request body verifying `l` with its true holder. */
export function verificationBody(l: DemoLicence, overrides: Record<string, unknown> = {}) {
  const holder = l.holderCodeType === '111' ? { name: l.holderName, idNumber: l.holderCode } : { name: l.holderName, creditCode: l.holderCode };
  return { licenceType: l.typeCode, licenceId: l.licenceId, holder, purpose: '跨省通办业务办理核验', ...overrides };
}
