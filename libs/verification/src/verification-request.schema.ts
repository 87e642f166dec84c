import { z } from 'zod';
import { checkCitizenId, checkCreditCode, checkLicenceId, IdentifierCheck } from '@tongban/identifiers';

const LICENCE_TYPE = /^[0-9A-HJ-NP-RTUWXY]{18}\d{3}$/;

function identifier(check: (v: string) => IdentifierCheck) {
  return z.string().superRefine((v, ctx) => {
    const r = check(v);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.message, params: { rule: r.rule } });
  });
}

/** One verification asked by a local system (`POST /v1/verifications`). */
export const verificationRequestSchema = z
  .object({
    licenceType: z.string().regex(LICENCE_TYPE, 'must be a 21-character GB/T 36904 licence type code'),
    licenceNumber: z.string().min(1).max(64).optional(),
    licenceId: identifier(checkLicenceId).optional(),
    issuerProvince: z
      .string()
      .regex(/^\d{2}0000$/, 'must be a 6-digit province code')
      .optional(),
    holder: z
      .object({
        name: z.string().trim().min(1).max(100).optional(),
        idNumber: identifier((v) => checkCitizenId(v)).optional(),
        creditCode: identifier(checkCreditCode).optional(),
      })
      .strict()
      .refine((h) => !(h.idNumber && h.creditCode), { message: 'give idNumber or creditCode, not both', params: { rule: 'ONE_HOLDER_CODE' } })
      .default({}),
    purpose: z.string().trim().min(1, 'is required (用证事由)').max(200),
    // true: tell this client of later status changes (docs/protocol-notices.md); false: not even by a standing subscription.
    notify: z.boolean().optional(),
  })
  .strict()
  .refine((r) => r.licenceNumber || r.licenceId, { message: 'licenceNumber or licenceId is required', path: ['licenceNumber'], params: { rule: 'REQUIRED' } });

export type VerificationRequest = z.infer<typeof verificationRequestSchema>;

/** Largest batch a local system may send at once. */
export const MAX_BATCH = 100;

/** `POST /v1/verifications/batch` body; items are validated one by one so errors name `items[i]`. */
export const batchRequestSchema = z.object({ items: z.array(z.unknown()).min(1).max(MAX_BATCH) }).strict();
