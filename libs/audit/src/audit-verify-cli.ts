import { readFile } from 'node:fs/promises';
import type { JSONWebKeySet, JWK } from 'jose';
import type { DataSource } from 'typeorm';
import { verifyStoredAuditChain } from './audit-chain.store';
import { AuditChainReport, ExportedCheckpoint } from './audit-chain.verifier';
import { CheckpointExportError, readExportedCheckpoints } from './audit-checkpoint-export';

/** Exit status of `tongban audit verify` (documented in docs/audit.md §5.1). */
export const AUDIT_VERIFY_EXIT = { PROVEN: 0, ERROR: 1, TAMPERED: 2, NOT_PROVEN: 3 } as const;

export interface AuditVerifyCommandOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface AuditVerifyInput {
  /** The gateway's participant code (the checkpoints' `iss`). */
  code: string;
  /** A key document from outside the database (file). */
  jwksFile?: string;
  /** A key document from outside the database (URL), fetched with `token` as a bearer token if given. */
  jwksUrl?: string;
  token?: string;
  /** Exported checkpoint trails (TONGBAN_AUDIT_CHECKPOINT_FILE of each replica). */
  checkpointFiles: string[];
  intervalSeconds: number;
  intervalEntries: number;
  now: number;
}

/** Keys obtained from outside the database, with those marked revoked. */
export interface AuditKeys {
  jwks: JSONWebKeySet;
  revokedKids: string[];
}

/** Raised when the key document cannot be used; the message names the source and the rule. */
export class AuditKeysError extends Error {}

/**
 * Reads a key document: a JWK Set (`{"keys":[JWK…]}`, e.g. a saved `/.well-known/jwks.json`), or
 * a list of keys with their status (`{"keys":[{"kid","status","jwk"}…]}`: a peer's
 * `GET /admin/peers/{code}` about us, or our `GET /admin/keys`). Keys marked REVOKED still verify
 * signatures, but their checkpoints prove nothing.
 */
export function parseAuditKeys(doc: unknown, source: string, code: string): AuditKeys {
  const d = doc as { code?: unknown; keys?: unknown };
  if (!d || typeof d !== 'object' || !Array.isArray(d.keys)) throw new AuditKeysError(`${source}: not a key set (expected {"keys": [...]})`);
  if (d.code !== undefined && d.code !== code)
    throw new AuditKeysError(`${source}: the keys are those of participant ${typeof d.code === 'string' ? d.code : JSON.stringify(d.code)}, not of this gateway (${code})`);
  const keys: JWK[] = [];
  const revokedKids: string[] = [];
  d.keys.forEach((entry: unknown, i: number) => {
    const e = entry as { kty?: unknown; jwk?: unknown; kid?: unknown; status?: unknown };
    const jwk = (e && typeof e === 'object' && typeof e.kty === 'string' ? e : e?.jwk) as (JWK & { d?: unknown }) | undefined;
    if (!jwk || typeof jwk !== 'object' || typeof jwk.kty !== 'string') throw new AuditKeysError(`${source}: keys[${i}] is neither a JWK nor {"jwk": …}`);
    if (jwk.d !== undefined) throw new AuditKeysError(`${source}: keys[${i}] is a private key: give public keys only`);
    const kid = jwk.kid ?? (typeof e.kid === 'string' ? e.kid : undefined);
    if (typeof kid !== 'string' || !kid) throw new AuditKeysError(`${source}: keys[${i}] has no kid`);
    keys.push({ ...jwk, kid });
    if (e.status === 'REVOKED' || (jwk as { status?: unknown }).status === 'REVOKED') revokedKids.push(kid);
  });
  return { jwks: { keys }, revokedKids };
}

async function loadKeys(o: AuditVerifyInput): Promise<{ keys: AuditKeys; source: string } | undefined> {
  if (o.jwksFile && o.jwksUrl) throw new AuditKeysError('give either --jwks or --jwks-url, not both');
  if (o.jwksFile) {
    let text: string;
    try {
      text = await readFile(o.jwksFile, 'utf8');
    } catch (e) {
      throw new AuditKeysError(`${o.jwksFile}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return { keys: parseAuditKeys(parseJson(text, o.jwksFile), o.jwksFile, o.code), source: o.jwksFile };
  }
  if (o.jwksUrl) {
    let res: Response;
    try {
      res = await fetch(o.jwksUrl, { headers: o.token ? { authorization: `Bearer ${o.token}` } : {}, signal: AbortSignal.timeout(15_000) });
    } catch (e) {
      throw new AuditKeysError(`${o.jwksUrl}: cannot be reached (${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message})`);
    }
    const text = await res.text();
    if (!res.ok) throw new AuditKeysError(`${o.jwksUrl}: HTTP ${res.status}${res.status === 401 || res.status === 403 ? ' (check the token: --token-env)' : ''}`);
    return { keys: parseAuditKeys(parseJson(text, o.jwksUrl), o.jwksUrl, o.code), source: o.jwksUrl };
  }
  return undefined;
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new AuditKeysError(`${source}: not JSON`);
  }
}

/**
 * `tongban audit verify`: the chain in `ds`, its checkpoints verified with keys from outside the
 * database, compared with exported trails. Exit 0 proven, 2 tampered, 3 not proven, 1 when the
 * check could not run (unreadable key document or export).
 */
export async function auditVerifyCommand(ds: DataSource, o: AuditVerifyInput): Promise<AuditVerifyCommandOutput> {
  let loaded: Awaited<ReturnType<typeof loadKeys>>;
  const exported: ExportedCheckpoint[] = [];
  const notes: string[] = [];
  try {
    loaded = await loadKeys(o);
    for (const file of o.checkpointFiles) {
      const r = await readExportedCheckpoints(file);
      exported.push(...r.checkpoints);
      notes.push(...r.notes);
    }
  } catch (e) {
    if (e instanceof AuditKeysError || e instanceof CheckpointExportError) return { stdout: '', stderr: `tongban: ${e.message}\n`, exitCode: AUDIT_VERIFY_EXIT.ERROR };
    throw e;
  }
  const r = await verifyStoredAuditChain(ds, {
    ...(loaded ? { jwks: loaded.keys.jwks, revokedKids: loaded.keys.revokedKids } : {}),
    issuer: o.code,
    intervalSeconds: o.intervalSeconds,
    intervalEntries: o.intervalEntries,
    now: o.now,
    exported,
  });
  return render(r, loaded?.source, notes);
}

function render(r: AuditChainReport, source: string | undefined, notes: string[]): AuditVerifyCommandOutput {
  const err: string[] = [];
  if (source) err.push(`note: checkpoint signatures checked with the keys from ${source}`);
  if (r.checkpoints.exported) err.push(`note: ${r.checkpoints.exported} exported checkpoint(s) compared with the database`);
  if (r.checkpoints.skipped) err.push(`note: ${r.checkpoints.skipped} checkpoint(s) signed by revoked keys prove nothing and were not counted`);
  if (r.gaps) err.push(`note: ${r.gaps} seq gap(s) with intact links (rows that never existed, from before the chain)`);
  if (r.hashes.SM3)
    err.push(
      `note: entries by hash: ${Object.entries(r.hashes)
        .map(([alg, n]) => `${alg} ${n}`)
        .join(', ')}`,
    );
  for (const n of notes) err.push(`note: ${n}`);
  const stderr = err.map((l) => l + '\n').join('');
  if (r.verdict === 'TAMPERED') return { stdout: `audit chain TAMPERED at seq ${r.firstBadSeq}: ${r.problem}\n`, stderr, exitCode: AUDIT_VERIFY_EXIT.TAMPERED };
  if (r.verdict === 'NOT_PROVEN') {
    const [first, ...rest] = r.notProven;
    return { stdout: `audit chain NOT PROVEN: ${first}\n${rest.map((x) => `  also: ${x}\n`).join('')}`, stderr, exitCode: AUDIT_VERIFY_EXIT.NOT_PROVEN };
  }
  const trusted = r.checkpoints.checked - r.checkpoints.skipped;
  const last = r.checkpoints.lastGoodSeq !== undefined ? `, the newest at seq ${r.checkpoints.lastGoodSeq}` : '';
  return { stdout: `audit chain PROVEN: ${r.checked} entries, ${trusted} checkpoints${last}\n`, stderr, exitCode: AUDIT_VERIFY_EXIT.PROVEN };
}
