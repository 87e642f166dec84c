import { LicenceRecord } from './licence-record';

/**
 * Where the issuer side finds its licences. The default reads the gateway's own registry table;
 * a province can bind its existing licence library here instead.
 */
export abstract class LicenceLookup {
  /** The licence with this GB/T 36904 identifier, or null. */
  abstract findById(licenceId: string): Promise<LicenceRecord | null>;
  /** The licence of this type with this number, or null. */
  abstract findByNumber(typeCode: string, number: string): Promise<LicenceRecord | null>;
}
