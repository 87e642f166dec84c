import { z } from 'zod';

/** Body of `POST /v1/licence-subscriptions/standing`. */
export const standingSubscriptionSchema = z
  .object({
    licenceType: z.string().regex(/^[0-9A-HJ-NP-RTUWXY]{18}\d{3}$/, 'must be a 21-character GB/T 36904 licence type code'),
  })
  .strict();
