import { X509Certificate } from 'node:crypto';
import { PublicJwkError, importPublicJwk, jwkAlgorithm, publicJwkThumbprint } from '@tongban/gm';
import { z } from 'zod';
import { publicJwkSchema } from '@tongban/trust';

/** The `format` member of every directory document this code reads and writes. */
export const DIRECTORY_FORMAT = 'tongban-directory/1';
/** The JWS `typ` of a signed directory. */
export const DIRECTORY_TYP = 'tongban-directory+jws';
/** Largest signed directory read from a source (bytes / characters). */
export const DIRECTORY_MAX_BYTES = 4 * 1024 * 1024;

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
// Same rule as the admin API (libs/trust peer.schemas.ts), plus a port in range.
const ENDPOINT = /^[A-Za-z0-9.\-[\]:]+:(\d{1,5})$/;

/**
 * RFC 7638 SHA-256 thumbprint of a public JWK (OKP or EC), computed synchronously: the required
 * members in lexicographic order, no whitespace (what jose's calculateJwkThumbprint produces).
 */
export function jwkThumbprint(jwk: { kty?: unknown; crv?: unknown; x?: unknown; y?: unknown }): string {
  return publicJwkThumbprint(jwk);
}

/** JSON with object keys sorted at every level and no whitespace: the bytes the anchor signs. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

const isoTime = z
  .string()
  .max(40)
  .refine((s) => ISO.test(s) && !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date-time with a time zone, e.g. 2026-12-01T00:00:00Z');

const directoryKeySchema = z
  .object({
    kid: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be the RFC 7638 SHA-256 thumbprint of jwk (43 base64url characters)'),
    jwk: publicJwkSchema,
    status: z.enum(['ACTIVE', 'RETIRED', 'REVOKED']),
  })
  .superRefine((k, ctx) => {
    if (k.jwk.kid !== undefined && k.jwk.kid !== k.kid) ctx.addIssue({ code: 'custom', path: ['jwk', 'kid'], message: 'differs from kid' });
    if (jwkThumbprint(k.jwk) !== k.kid) ctx.addIssue({ code: 'custom', path: ['kid'], message: 'is not the RFC 7638 SHA-256 thumbprint of jwk' });
    const alg = jwkAlgorithm(k.jwk);
    try {
      if (!alg) throw new Error('no algorithm');
      importPublicJwk(k.jwk, alg);
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: ['jwk'], message: `is not a usable public key${e instanceof PublicJwkError ? ` (${e.code})` : ''}` });
    }
  });

const tlsCaSchema = z
  .string()
  .max(64 * 1024)
  .superRefine((pem, ctx) => {
    const blocks = pem.match(PEM_CERT) ?? [];
    if (blocks.length === 0) return void ctx.addIssue({ code: 'custom', message: 'must hold one or more PEM certificates' });
    for (const b of blocks) {
      try {
        new X509Certificate(b);
      } catch {
        return void ctx.addIssue({ code: 'custom', message: 'holds a PEM block that is not an X.509 certificate' });
      }
    }
  });

const participantSchema = z
  .object({
    code: z.string().regex(/^\d{6}$/, 'must be a 6-digit participant code'),
    name: z.string().min(1).max(100),
    endpoint: z
      .string()
      .max(255)
      .refine((e) => {
        const m = ENDPOINT.exec(e);
        return !!m && Number(m[1]) >= 1 && Number(m[1]) <= 65535;
      }, 'must be host:port'),
    status: z.enum(['ACTIVE', 'SUSPENDED']),
    keys: z.array(directoryKeySchema).max(20),
    tlsCa: tlsCaSchema.optional(),
  })
  .superRefine((p, ctx) => {
    const kids = p.keys.map((k) => k.kid);
    if (new Set(kids).size !== kids.length) ctx.addIssue({ code: 'custom', path: ['keys'], message: 'lists a kid twice' });
  });

/**
 * A directory document. Unknown members are ignored (a later version of the format that only adds
 * members stays readable); anything that breaks a rule here refuses the whole document.
 */
export const directoryDocumentSchema = z
  .object({
    format: z.literal(DIRECTORY_FORMAT),
    serial: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    issuedAt: isoTime,
    notBefore: isoTime,
    notAfter: isoTime,
    participants: z.array(participantSchema).max(200),
  })
  .superRefine((d, ctx) => {
    if (Date.parse(d.notAfter) <= Date.parse(d.notBefore)) ctx.addIssue({ code: 'custom', path: ['notAfter'], message: 'must be after notBefore' });
    const codes = d.participants.map((p) => p.code);
    const dup = codes.find((c, i) => codes.indexOf(c) !== i);
    if (dup) ctx.addIssue({ code: 'custom', path: ['participants'], message: `lists participant ${dup} twice` });
  });

export type DirectoryDocument = z.infer<typeof directoryDocumentSchema>;
export type DirectoryParticipant = DirectoryDocument['participants'][number];
export type DirectoryKey = DirectoryParticipant['keys'][number];

/** The first rule a value breaks, as `path: message`, or null when it is a valid document. */
export function directoryProblem(value: unknown): string | null {
  const r = directoryDocumentSchema.safeParse(value);
  if (r.success) return null;
  const issue = r.error.issues[0];
  return `${issue.path.map(String).join('.') || '(document)'}: ${issue.message}`;
}

/** SHA-256 fingerprint (AA:BB:…) of the first certificate of a participant's TLS CA, if any. */
export function tlsCaFingerprint(pem: string | undefined): string | null {
  const first = pem?.match(PEM_CERT)?.[0];
  if (!first) return null;
  try {
    return new X509Certificate(first).fingerprint256;
  } catch {
    return null;
  }
}
