import { z } from 'zod';
import { checkCitizenId } from '@tongban/identifiers';

const code = z.string().regex(/^\d{6}$/, 'must be a 6-digit participant code');

/** Body of `POST /v1/cases`. */
export const openCaseSchema = z
  .object({
    itemCode: z.string().regex(/^[A-Z0-9_-]{2,40}$/, 'must be a catalogue item code'),
    applicant: z
      .object({
        name: z.string().trim().min(1).max(100),
        idNumber: z.string().superRefine((v, ctx) => {
          const r = checkCitizenId(v);
          if (!r.ok) ctx.addIssue({ code: 'custom', message: r.message, params: { rule: r.rule } });
        }),
      })
      .strict(),
    participants: z.record(z.string().regex(/^[A-Z_]{2,30}$/, 'role names are upper-case'), code),
    materials: z
      .array(
        z
          .object({
            code: z.string().min(1).max(60),
            form: z.enum(['ELECTRONIC', 'PAPER']).default('ELECTRONIC'),
            note: z.string().max(200).optional(),
          })
          .strict(),
      )
      .max(50)
      .default([]),
    receivedAt: z
      .object({
        office: z.string().trim().min(1).max(100),
        clerk: z.string().trim().min(1).max(50),
        channel: z.enum(['WINDOW', 'ONLINE', 'POST']),
      })
      .strict(),
  })
  .strict();
export type OpenCaseRequest = z.infer<typeof openCaseSchema>;

/** Body of `POST /v1/cases/{id}/cancel`. */
export const cancelSchema = z.object({ reason: z.string().trim().min(1).max(500) }).strict();

/** Body of `POST /v1/tasks/{id}/complete`. */
export const completeSchema = z.object({ outputs: z.record(z.string(), z.string().max(500)).default({}), note: z.string().max(500).optional() }).strict();

/** Body of `POST /v1/tasks/{id}/refuse` and `/request-materials`. */
export const reasonSchema = z.object({ reason: z.string().trim().min(1).max(500) }).strict();

/** Body of `POST /v1/tasks/{id}/accept`. */
export const acceptSchema = z
  .object({ note: z.string().max(500).optional() })
  .strict()
  .default({});

/** Body of `POST /v1/cases/{id}/postal` (异地代收代办: paper materials or the result by post). */
export const postalSchema = z
  .object({
    item: z.enum(['MATERIALS', 'RESULT']),
    event: z.enum(['SENT', 'RECEIVED']),
    carrier: z.string().trim().min(1).max(50),
    trackingNumber: z.string().regex(/^[A-Za-z0-9-]{4,40}$/, 'must be 4-40 letters, digits or dashes'),
  })
  .strict();

/** Body of `POST /v1/cases/{id}/result-delivery` (electronic result delivery). */
export const resultDeliverySchema = z
  .object({
    channel: z.enum(['ELECTRONIC', 'WINDOW']),
    reference: z.string().trim().min(1).max(100),
  })
  .strict();
