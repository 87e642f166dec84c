import { z } from 'zod';
import { checkCitizenId, checkCreditCode, checkLicenceId, parseLicenceId } from '@tongban/identifiers';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const isRealDate = (s: string) => DATE.test(s) && !Number.isNaN(Date.parse(s + 'T00:00:00Z')) && new Date(s + 'T00:00:00Z').toISOString().startsWith(s);
const date = z.string().refine(isRealDate, { message: 'must be a calendar date YYYY-MM-DD', params: { rule: 'DATE' } });

/** One licence as imported or stored; the registry's unit of truth. */
export const licenceRecordSchema = z
  .object({
    licenceId: z.string().superRefine((v, ctx) => {
      const r = checkLicenceId(v);
      if (!r.ok) ctx.addIssue({ code: 'custom', message: r.message, params: { rule: r.rule } });
    }),
    typeCode: z.string().regex(/^[0-9A-HJ-NP-RTUWXY]{18}\d{3}$/, 'must be a 21-character GB/T 36904 type code'),
    name: z.string().min(1).max(100),
    number: z.string().min(1).max(64),
    issuerOrganName: z.string().min(1).max(200),
    issuerOrganCode: z.string().superRefine((v, ctx) => {
      const r = checkCreditCode(v);
      if (!r.ok) ctx.addIssue({ code: 'custom', message: r.message, params: { rule: r.rule } });
    }),
    holderName: z.string().min(1).max(200),
    holderCode: z
      .string()
      .min(1)
      .max(18)
      .transform((v) => v.toUpperCase()),
    holderCodeType: z.enum(['111', '001']),
    issueDate: date,
    validFrom: date,
    validUntil: date.nullable().default(null),
    status: z.enum(['VALID', 'SUSPENDED', 'REVOKED']),
    jurisdictionCode: z.string().regex(/^\d{6}$/, 'must be a 6-digit GB/T 2260 code'),
  })
  .strict()
  .superRefine((r, ctx) => {
    const holder = r.holderCodeType === '111' ? checkCitizenId(r.holderCode) : checkCreditCode(r.holderCode);
    if (!holder.ok) ctx.addIssue({ code: 'custom', path: ['holderCode'], message: holder.message, params: { rule: holder.rule } });
    if (checkLicenceId(r.licenceId).ok) {
      const id = parseLicenceId(r.licenceId);
      if (id.typeCode !== r.typeCode) ctx.addIssue({ code: 'custom', path: ['typeCode'], message: 'must equal the type code inside licenceId', params: { rule: 'LICENCE_ID_CONSISTENCY' } });
      if (id.issuerCode !== r.issuerOrganCode)
        ctx.addIssue({ code: 'custom', path: ['issuerOrganCode'], message: 'must equal the issuer code inside licenceId', params: { rule: 'LICENCE_ID_CONSISTENCY' } });
    }
    if (r.validUntil && r.validUntil < r.validFrom) ctx.addIssue({ code: 'custom', path: ['validUntil'], message: 'must not be before validFrom', params: { rule: 'DATE_ORDER' } });
  });

export type LicenceRecord = z.infer<typeof licenceRecordSchema>;
