import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Licence fields an issuer may disclose (names as in the local API's `licence` object). */
export const DISCLOSABLE_FIELDS = ['licenceType', 'licenceName', 'licenceNumber', 'licenceId', 'holderName', 'issueDate', 'validFrom', 'validUntil', 'jurisdictionCode'] as const;
export type DisclosableField = (typeof DISCLOSABLE_FIELDS)[number];

const fileSchema = z.object({
  version: z.string().min(1),
  types: z.array(
    z.object({
      code: z.string().regex(/^[0-9A-HJ-NP-RTUWXY]{18}\d{3}$/),
      name: z.string().min(1),
      holderCodeType: z.enum(['111', '001']),
      disclose: z.array(z.enum(DISCLOSABLE_FIELDS)),
    }),
  ),
});

/** What fields are disclosed when nobody configured the type. */
const DEFAULT_DISCLOSURE: DisclosableField[] = ['licenceType', 'licenceNumber', 'licenceId'];

/** Licence types this issuer knows and what it discloses for each (data, loaded at boot). */
export class LicenceTypeCatalogue {
  private readonly byCode: Map<string, { name: string; disclose: Set<DisclosableField> }>;

  constructor(
    readonly version: string,
    types: { code: string; name: string; disclose: DisclosableField[] }[],
  ) {
    this.byCode = new Map(types.map((t) => [t.code, { name: t.name, disclose: new Set(t.disclose) }]));
  }

  /** Loads and validates the catalogue, failing with a message that names the entry and field. */
  static fromFile(path: string): LicenceTypeCatalogue {
    const parsed = fileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new Error(`licence type catalogue ${path}: ${i.path.join('.')}: ${i.message}`);
    }
    return new LicenceTypeCatalogue(parsed.data.version, parsed.data.types);
  }

  /** Fields disclosed for a type. */
  disclosed(typeCode: string): Set<DisclosableField> {
    return this.byCode.get(typeCode)?.disclose ?? new Set(DEFAULT_DISCLOSURE);
  }

  /** Display name of a type, if known. */
  name(typeCode: string): string | undefined {
    return this.byCode.get(typeCode)?.name;
  }
}
