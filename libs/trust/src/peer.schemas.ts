import { z } from 'zod';
import { JWS_ALGORITHMS } from '@tongban/gm';

const LICENCE_TYPE = /^[0-9A-HJ-NP-RTUWXY]{18}\d{3}$/;

/**
 * A public JWK we are willing to trust: Ed25519 (EdDSA), P-256 (ES256) or SM2 (SM2SM3, checked further
 * by @tongban/gm: on the curve, not the identity, `alg` SM2SM3), never with private parts.
 */
export const publicJwkSchema = z
  .object({
    kty: z.enum(['OKP', 'EC']),
    crv: z.enum(['Ed25519', 'P-256', 'SM2']),
    x: z.string().regex(/^[A-Za-z0-9_-]+$/),
    y: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .optional(),
    alg: z.enum(JWS_ALGORITHMS).optional(),
    kid: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .optional(),
    use: z.literal('sig').optional(),
  })
  .passthrough()
  .superRefine((jwk, ctx) => {
    if ('d' in jwk) ctx.addIssue({ code: 'custom', path: ['d'], message: 'a private key must never be sent', params: { rule: 'PRIVATE_KEY_MATERIAL' } });
    const okp = jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && !jwk.y && (jwk.alg ?? 'EdDSA') === 'EdDSA';
    const ec = jwk.kty === 'EC' && jwk.crv === 'P-256' && !!jwk.y && (jwk.alg ?? 'ES256') === 'ES256';
    // An SM2 key's `alg` and point are checked by importPublicJwk, which names the rule (SM2_ALG_MISMATCH, …).
    const sm2 = jwk.kty === 'EC' && jwk.crv === 'SM2';
    if (!okp && !ec && !sm2) ctx.addIssue({ code: 'custom', message: 'key must be OKP/Ed25519 for EdDSA, EC/P-256 for ES256 or EC/SM2 for SM2SM3', params: { rule: 'KEY_TYPE' } });
  });

const licenceTypes = z
  .array(z.string().refine((t) => t === '*' || LICENCE_TYPE.test(t), { message: "each entry must be a 21-character GB/T 36904 licence type code or '*'", params: { rule: 'LICENCE_TYPE' } }))
  .max(500);

const itemCodes = z.array(z.string().regex(/^(\*|[A-Z0-9_-]{2,40})$/, "each entry must be a catalogue item code or '*'")).max(500);
const roleNames = z.array(z.string().regex(/^(\*|[A-Z][A-Z0-9_]{1,39})$/, "each entry must be a case role name (e.g. ORIGIN) or '*'")).max(100);
const rateLimit = z.number().int().min(1).max(100_000).nullable();
// null: any algorithm on the gateway's allow-list (TONGBAN_ALLOWED_ALGS).
const algs = z
  .array(z.enum(JWS_ALGORITHMS, { message: 'each entry must be EdDSA, ES256 or SM2SM3' }))
  .min(1)
  .max(JWS_ALGORITHMS.length)
  .nullable();

/** Body of `POST /admin/peers`. */
export const createPeerSchema = z
  .object({
    code: z.string().regex(/^\d{6}$/, 'must be a 6-digit participant code'),
    name: z.string().min(1).max(100).optional(),
    endpoint: z.string().regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'must be host:port'),
    allowedLicenceTypes: licenceTypes.default(['*']),
    status: z.enum(['ACTIVE', 'SUSPENDED']).default('ACTIVE'),
    allowedItems: itemCodes.default(['*']),
    allowedRoles: roleNames.default(['*']),
    rateLimitPerSecond: rateLimit.default(null),
    allowedAlgs: algs.default(null),
    allowNotices: z.boolean().default(true),
    keys: z.array(publicJwkSchema).max(20).default([]),
  })
  .strict();

/** Body of `PATCH /admin/peers/:code`. */
export const updatePeerSchema = z
  .object({
    name: z.string().min(1).max(100).optional(),
    endpoint: z
      .string()
      .regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'must be host:port')
      .optional(),
    allowedLicenceTypes: licenceTypes.optional(),
    status: z.enum(['ACTIVE', 'SUSPENDED']).optional(),
    allowedItems: itemCodes.optional(),
    allowedRoles: roleNames.optional(),
    rateLimitPerSecond: rateLimit.optional(),
    allowedAlgs: algs.optional(),
    allowNotices: z.boolean().optional(),
  })
  .strict();

/** Body of `PATCH /admin/peers/:code/keys/:kid`. */
export const updatePeerKeySchema = z.object({ status: z.enum(['ACTIVE', 'RETIRED', 'REVOKED']) }).strict();

export type CreatePeerInput = z.infer<typeof createPeerSchema>;
export type UpdatePeerInput = z.infer<typeof updatePeerSchema>;
