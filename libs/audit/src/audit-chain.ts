import { createHash } from 'node:crypto';
import { compactVerify, createLocalJWKSet, JSONWebKeySet } from 'jose';

/** `prev_hash` of the first entry of a chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** JWS `typ` of a signed audit checkpoint; nothing else is signed with it. */
export const AUDIT_CHECKPOINT_TYP = 'tongban-audit-checkpoint+jwt';

/** Algorithms a checkpoint signature may use (the gateway's own signing algorithms). */
export const AUDIT_CHECKPOINT_ALGORITHMS = ['EdDSA', 'ES256'];

/** One stored audit entry as the chain sees it (entity or raw row; `at` as Date, ms or bigint text). */
export interface AuditChainRow {
  seq: number | string;
  at: Date | number | string;
  event: string;
  actor: string;
  subject: string;
  outcome: string;
  reason: string | null;
  messageId: string | null;
  details: string | null;
  prevHash: string | null;
  hash: string | null;
}

/** One stored checkpoint: the chain head `(seq, hash)` signed by the gateway at `at`. */
export interface AuditChainCheckpoint {
  seq: number | string;
  hash: string;
  at: Date | number | string;
  signature: string;
  kid: string;
}

/** Claims of a checkpoint JWS. */
export interface AuditCheckpointClaims {
  iss?: string;
  seq: number;
  hash: string;
  at: number;
}

export interface AuditChainVerifyOptions {
  /** Public keys that may have signed checkpoints; without it signatures are not checked. */
  jwks?: JSONWebKeySet;
  /** Expected `iss` of every checkpoint (the gateway's code), if known. */
  issuer?: string;
  /** Keys whose checkpoints are set aside (counted as skipped), e.g. revoked ones. */
  ignoreKids?: string[];
}

export interface AuditChainReport {
  ok: boolean;
  /** Entries examined. */
  checked: number;
  /** The first entry (by seq) that is altered, follows removed entries, or contradicts a checkpoint. */
  firstBadSeq?: number;
  problem?: string;
  checkpoints: {
    checked: number;
    bad: number;
    /** Checkpoints signed by an ignored key: neither trusted nor held against the chain. */
    skipped: number;
    /** Highest good checkpoint; entries after it are covered by the chain alone. */
    lastGoodSeq?: number;
  };
  /** Whether checkpoint signatures were checked (a JWKS was given). */
  signaturesChecked: boolean;
  /** Seq jumps whose prev_hash still links: rows that never existed (legacy rows), not removed ones. */
  gaps: number;
  /** Seq of the last entry, if any. */
  headSeq?: number;
}

const ms = (at: Date | number | string): number => (at instanceof Date ? at.getTime() : Number(at));

/**
 * The entry hash: hex SHA-256 of `JSON.stringify([seq, at_ms, event, actor, subject, outcome,
 * reason, message_id, details, prev_hash])`, missing values as null. Changing this breaks every
 * stored chain; the migration that back-filled old rows keeps its own frozen copy.
 */
export function auditEntryHash(row: AuditChainRow): string {
  const canonical = JSON.stringify([Number(row.seq), ms(row.at), row.event, row.actor, row.subject, row.outcome, row.reason ?? null, row.messageId ?? null, row.details ?? null, row.prevHash ?? null]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

interface Problem {
  seq: number;
  problem: string;
  /** Chain problems outrank checkpoint problems at the same seq: they are more precise. */
  rank: number;
}

/**
 * Verifies a chain fed entry by entry in ascending seq order (so a large table can be read page by
 * page), then its checkpoints. `verifyAuditChain` is the one-shot form.
 */
export class AuditChainVerifier {
  private prev: { seq: number; hash: string | null } | undefined;
  private checked = 0;
  private gaps = 0;
  private chainProblem: Problem | undefined;
  private readonly checkpoints: AuditChainCheckpoint[];
  private readonly wanted: Set<number>;
  /** Stored hashes of the entries checkpoints name, collected on the way. */
  private readonly atCheckpoint = new Map<number, string | null>();

  constructor(checkpoints: AuditChainCheckpoint[]) {
    this.checkpoints = [...checkpoints].sort((a, b) => Number(a.seq) - Number(b.seq));
    this.wanted = new Set(this.checkpoints.map((c) => Number(c.seq)));
  }

  /** Checks one entry against its predecessor; entries must come in ascending seq order. */
  add(row: AuditChainRow): void {
    const seq = Number(row.seq);
    const prev = this.prev;
    this.checked++;
    const fail = (problem: string) => {
      if (!this.chainProblem) this.chainProblem = { seq, problem, rank: 0 };
    };
    if (!Number.isSafeInteger(seq)) fail(`seq ${String(row.seq)} is not an integer`);
    else if (prev && seq === prev.seq) fail(`seq ${seq} appears twice`);
    else if (prev && seq < prev.seq) fail(`entries are not in seq order (${seq} after ${prev.seq})`);

    const expected = prev ? prev.hash : GENESIS_HASH;
    if (row.prevHash !== expected) {
      if (!prev) fail(`prev_hash of the first entry is not the genesis value: entries before seq ${seq} were removed`);
      else if (seq > prev.seq + 1) fail(`entries ${prev.seq + 1}..${seq - 1} are missing: prev_hash does not link to entry ${prev.seq}`);
      else fail(`prev_hash does not link to entry ${prev.seq} (removed, inserted or altered entry)`);
    } else if (prev && seq > prev.seq + 1) {
      this.gaps++;
    }
    if (row.hash == null) fail('entry has no hash (written outside the audit log)');
    else if (row.hash !== auditEntryHash(row)) fail('entry content does not match its hash (entry altered)');

    if (this.wanted.has(seq)) this.atCheckpoint.set(seq, row.hash);
    this.prev = { seq, hash: row.hash };
  }

  /** Checks the checkpoints against the entries seen (and their signatures against `jwks`) and reports. */
  async finish(options: AuditChainVerifyOptions = {}): Promise<AuditChainReport> {
    const problems: Problem[] = this.chainProblem ? [this.chainProblem] : [];
    const keys = options.jwks ? createLocalJWKSet(options.jwks) : undefined;
    const ignored = new Set(options.ignoreKids ?? []);
    const headSeq = this.prev?.seq;
    let checked = 0;
    let bad = 0;
    let skipped = 0;
    let lastGoodSeq: number | undefined;
    let previousGood = 0;
    for (const c of this.checkpoints) {
      const seq = Number(c.seq);
      if (keys && ignored.has(c.kid)) {
        skipped++;
        continue;
      }
      checked++;
      let problem: string | undefined;
      const stored = this.atCheckpoint.get(seq);
      if (headSeq === undefined || seq > headSeq) problem = `checkpoint at seq ${seq} is beyond the last entry (${headSeq ?? 'none'}): entries were removed`;
      else if (!this.atCheckpoint.has(seq)) problem = `checkpoint at seq ${seq} names an entry that does not exist: entries were removed`;
      else if (stored !== c.hash) problem = `checkpoint at seq ${seq} does not match the chain: entries after seq ${previousGood} were rewritten, or the checkpoint is forged`;
      else if (keys) problem = await this.signatureProblem(c, seq, keys, options.issuer);
      if (problem) {
        bad++;
        problems.push({ seq, problem, rank: 1 });
      } else {
        lastGoodSeq = seq;
        previousGood = seq;
      }
    }
    problems.sort((a, b) => a.seq - b.seq || a.rank - b.rank);
    const first = problems[0];
    return {
      ok: !first,
      checked: this.checked,
      ...(first ? { firstBadSeq: first.seq, problem: first.problem } : {}),
      checkpoints: { checked, bad, skipped, ...(lastGoodSeq !== undefined ? { lastGoodSeq } : {}) },
      signaturesChecked: !!keys,
      gaps: this.gaps,
      ...(headSeq !== undefined ? { headSeq } : {}),
    };
  }

  private async signatureProblem(c: AuditChainCheckpoint, seq: number, keys: ReturnType<typeof createLocalJWKSet>, issuer?: string): Promise<string | undefined> {
    let header: { typ?: string; kid?: string };
    let claims: Partial<AuditCheckpointClaims>;
    try {
      const verified = await compactVerify(c.signature, keys, { algorithms: AUDIT_CHECKPOINT_ALGORITHMS });
      header = verified.protectedHeader;
      claims = JSON.parse(Buffer.from(verified.payload).toString('utf8')) as Partial<AuditCheckpointClaims>;
    } catch (e) {
      return `checkpoint at seq ${seq}: signature does not verify (${(e as { code?: string }).code ?? 'invalid'}, key ${String(c.kid).slice(0, 64)})`;
    }
    if (!claims || typeof claims !== 'object') return `checkpoint at seq ${seq}: signed payload is not a claims object`;
    if (header.typ !== AUDIT_CHECKPOINT_TYP) return `checkpoint at seq ${seq}: signed token is not a checkpoint (typ ${String(header.typ)})`;
    if (header.kid !== c.kid) return `checkpoint at seq ${seq}: stored kid differs from the signing key`;
    if (claims.seq !== seq || claims.hash !== c.hash || claims.at !== ms(c.at)) return `checkpoint at seq ${seq}: signed claims differ from the stored checkpoint`;
    if (issuer !== undefined && claims.iss !== issuer) return `checkpoint at seq ${seq}: signed by ${String(claims.iss)}, not ${issuer}`;
    return undefined;
  }
}

/**
 * Verifies a whole chain: recomputes every hash in seq order, checks each prev_hash link, then
 * each checkpoint (hash at its seq; signature when a JWKS is given). Names the first bad entry.
 */
export async function verifyAuditChain(
  rows: AuditChainRow[],
  checkpoints: AuditChainCheckpoint[],
  jwks?: JSONWebKeySet,
  options: Omit<AuditChainVerifyOptions, 'jwks'> = {},
): Promise<AuditChainReport> {
  const verifier = new AuditChainVerifier(checkpoints);
  // Stable: of two rows with one seq, the earlier one in the input is taken as the original.
  for (const row of [...rows].sort((a, b) => Number(a.seq) - Number(b.seq))) verifier.add(row);
  return verifier.finish({ ...options, jwks });
}
