import { z } from 'zod';

/** Body of `POST /v1/webhooks`. */
export const registerWebhookSchema = z
  .object({
    url: z.string().min(1).max(2000),
    events: z
      .array(z.string().regex(/^(\*|[A-Z][A-Z0-9_]{0,38}\*?|licence\.status\.changed)$/, 'must be an event type (e.g. STEP_ASSIGNED or licence.status.changed), a prefix ending in * (STEP_*) or *'))
      .min(1)
      .max(100)
      .default(['*']),
    secret: z
      .string()
      .min(16)
      .max(200)
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
      .optional(),
  })
  .strict();
