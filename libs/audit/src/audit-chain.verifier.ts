import { decodeProtectedHeader, JSONWebKeySet } from 'jose';
import { PublicJwkMembers, verifyJwsWithKeySet } from '@tongban/gm';
import { AUDIT_CHECKPOINT_ALGORITHMS, AUDIT_CHECKPOINT_TYP, AuditChainCheckpoint, AuditChainRow, AuditCheckpointClaims, GENESIS_HASH, auditEntryHash, checkpointLink, ms } from './audit-chain';

/** A checkpoint read from an export outside the database (`TONGBAN_AUDIT_CHECKPOINT_FILE`). */
export interface ExportedCheckpoint extends AuditChainCheckpoint {
  /** Where it was read, for messages: `<file>:<line>`. */
  source: string;
}

export interface AuditChainVerifyOptions {
  /**
   * Public keys that may have signed checkpoints, obtained from outside the database. Without them
   * signatures are not checked and the trail can at best be "not proven".
   */
  jwks?: JSONWebKeySet;
  /** Keys (by the kid of the verified JWS header) whose checkpoints are valid but prove nothing: revoked ones. */
  revokedKids?: string[];
  /** Expected `iss` of every checkpoint (the gateway's code). */
  issuer?: string;
  /** The gateway's checkpoint interval in seconds; 0 or absent: no time rule. */
  intervalSeconds?: number;
  /** The gateway's checkpoint interval in entries; 0 or absent: no entry-count rule. */
  intervalEntries?: number;
  /** Now, epoch ms (for the age of entries after the last checkpoint). */
  now?: number;
  /** Checkpoints exported outside the database; each must be in the database, unchanged. */
  exported?: ExportedCheckpoint[];
}

/**
 * PROVEN: intact and sealed by trusted checkpoints within the rules. TAMPERED: an entry or a
 * checkpoint contradicts another or its signature. NOT_PROVEN: nothing contradicts, but the
 * evidence is missing (no outside keys, no checkpoint, a checkpoint gap, an old unsealed tail).
 */
export type AuditVerdict = 'PROVEN' | 'TAMPERED' | 'NOT_PROVEN';

export interface AuditChainReport {
  /** No tampering found (the verdict may still be NOT_PROVEN). */
  ok: boolean;
  verdict: AuditVerdict;
  /** Entries examined. */
  checked: number;
  /** The first entry (by seq) that is altered, follows removed entries, or contradicts a checkpoint. */
  firstBadSeq?: number;
  problem?: string;
  /** Why the trail is not proven (empty when PROVEN or TAMPERED for another reason). */
  notProven: string[];
  checkpoints: {
    checked: number;
    bad: number;
    /** Valid checkpoints signed by a revoked key: neither trusted nor held against the chain. */
    skipped: number;
    /** Highest trusted checkpoint; entries after it are covered by the chain alone. */
    lastGoodSeq?: number;
    /** Exported checkpoints compared with the database. */
    exported: number;
  };
  /** Whether checkpoint signatures were checked (keys were given). */
  signaturesChecked: boolean;
  /** Seq jumps whose prev_hash still links: rows that never existed (legacy rows), not removed ones. */
  gaps: number;
  /** Seq of the last entry, if any. */
  headSeq?: number;
  /** Entries per hash (`hash_alg`): a chain may change hash mid-way (TONGBAN_AUDIT_HASH). */
  hashes: Record<string, number>;
}

interface Problem {
  seq: number;
  problem: string;
  /** Chain problems outrank checkpoint problems at the same seq: they are more precise. */
  rank: number;
}

/** A checkpoint that matched the chain (and, with keys, verified). */
interface Sealed {
  seq: number;
  at: number;
  trusted: boolean;
  linked: boolean;
}

type Keys = { keys: PublicJwkMembers[] };

/**
 * Verifies a chain fed entry by entry in ascending seq order (so a large table can be read page by
 * page), then its checkpoints, their `prev` links, their spacing, and any exported copies.
 * `verifyAuditChain` is the one-shot form.
 */
export class AuditChainVerifier {
  private prev: { seq: number; hash: string | null } | undefined;
  private checked = 0;
  private gaps = 0;
  private readonly hashes: Record<string, number> = {};
  private chainProblem: Problem | undefined;
  private firstAt: number | undefined;
  private readonly checkpoints: AuditChainCheckpoint[];
  private readonly wanted: Set<number>;
  /** Stored hashes of the entries checkpoints name, collected on the way. */
  private readonly atCheckpoint = new Map<number, string | null>();
  /** Sorted seqs after which the time of the next entry is wanted. */
  private readonly after: number[];
  private afterIdx = 0;
  /** For a checkpoint seq: `at` of the first entry after it. */
  private readonly firstAfter = new Map<number, number>();

  constructor(checkpoints: AuditChainCheckpoint[], exported: AuditChainCheckpoint[] = []) {
    this.checkpoints = [...checkpoints].sort((a, b) => Number(a.seq) - Number(b.seq));
    this.wanted = new Set([...this.checkpoints, ...exported].map((c) => Number(c.seq)));
    this.after = [...this.wanted].sort((a, b) => a - b);
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
    const alg = row.hashAlg ?? 'SHA-256';
    this.hashes[alg] = (this.hashes[alg] ?? 0) + 1;
    if (row.hash == null) fail('entry has no hash (written outside the audit log)');
    else if (row.hashAlg != null && row.hashAlg !== 'SM3') fail(`entry has an unknown hash_alg ${JSON.stringify(row.hashAlg).slice(0, 20)} (entry altered)`);
    else if (row.hash !== auditEntryHash(row)) fail('entry content does not match its hash (entry altered)');

    if (this.wanted.has(seq)) this.atCheckpoint.set(seq, row.hash);
    const at = ms(row.at);
    if (this.firstAt === undefined) this.firstAt = at;
    while (this.afterIdx < this.after.length && this.after[this.afterIdx] < seq) this.firstAfter.set(this.after[this.afterIdx++], at);
    this.prev = { seq, hash: row.hash };
  }

  /** Checks the checkpoints against the entries seen, their signatures against the keys, and reports. */
  async finish(options: AuditChainVerifyOptions = {}): Promise<AuditChainReport> {
    const problems: Problem[] = this.chainProblem ? [this.chainProblem] : [];
    const keys = options.jwks ? { keys: options.jwks.keys as PublicJwkMembers[] } : undefined;
    const revoked = new Set(options.revokedKids ?? []);
    const headSeq = this.prev?.seq;
    const sealed: Sealed[] = [];
    let checked = 0;
    let bad = 0;
    let skipped = 0;
    let lastGoodSeq: number | undefined;
    let previousGood = 0;
    let previous: AuditChainCheckpoint | undefined;
    let linking = false;
    for (const c of this.checkpoints) {
      const seq = Number(c.seq);
      checked++;
      let problem = this.matchProblem(c, seq, headSeq, `checkpoint at seq ${seq}`, previousGood);
      let signed: { kid: string; claims: Partial<AuditCheckpointClaims> } | undefined;
      if (!problem && keys) {
        const v = await verifyCheckpoint(c, seq, keys, options.issuer);
        if ('problem' in v) problem = v.problem;
        else signed = v;
      }
      if (!problem && signed) problem = linkProblem(seq, signed.claims.prev, previous, linking);
      if (signed?.claims.prev !== undefined) linking = true;
      previous = c;
      if (problem) {
        bad++;
        problems.push({ seq, problem, rank: 1 });
        continue;
      }
      const trusted = !!signed && !revoked.has(signed.kid);
      if (signed && !trusted) skipped++;
      sealed.push({ seq, at: ms(c.at), trusted, linked: signed?.claims.prev !== undefined });
      previousGood = seq;
      if (trusted) lastGoodSeq = seq;
    }

    const exported = options.exported ?? [];
    const stored = new Map(this.checkpoints.map((c) => [Number(c.seq), c]));
    for (const e of exported) {
      const seq = Number(e.seq);
      const inDb = stored.get(seq);
      let problem: string | undefined;
      if (headSeq === undefined || seq > headSeq) problem = `the exported checkpoint at seq ${seq} (${e.source}) is beyond the last entry (${headSeq ?? 'none'}): entries were removed (truncated)`;
      else if (!inDb) problem = `the exported checkpoint at seq ${seq} (${e.source}) is not in the database: the checkpoint was deleted`;
      else if (inDb.signature !== e.signature) problem = `checkpoint at seq ${seq} in the database differs from the exported one (${e.source}): rewritten`;
      else if (keys) {
        const v = await verifyCheckpoint(e, seq, keys, options.issuer);
        if ('problem' in v) problem = `exported ${v.problem} (${e.source})`;
      }
      if (problem) problems.push({ seq, problem, rank: 2 });
    }

    const notProven = keys ? this.unproven(sealed, lastGoodSeq, headSeq, options) : ['checkpoint signatures were not checked: give public keys from outside the database (--jwks or --jwks-url)'];
    problems.sort((a, b) => a.seq - b.seq || a.rank - b.rank);
    const first = problems[0];
    return {
      ok: !first,
      verdict: first ? 'TAMPERED' : notProven.length ? 'NOT_PROVEN' : 'PROVEN',
      checked: this.checked,
      ...(first ? { firstBadSeq: first.seq, problem: first.problem } : {}),
      notProven,
      checkpoints: { checked, bad, skipped, ...(lastGoodSeq !== undefined ? { lastGoodSeq } : {}), exported: exported.length },
      signaturesChecked: !!keys,
      gaps: this.gaps,
      ...(headSeq !== undefined ? { headSeq } : {}),
      hashes: { ...this.hashes },
    };
  }

  /** Does the checkpoint name an existing entry with its hash? */
  private matchProblem(c: AuditChainCheckpoint, seq: number, headSeq: number | undefined, what: string, previousGood: number): string | undefined {
    if (headSeq === undefined || seq > headSeq) return `${what} is beyond the last entry (${headSeq ?? 'none'}): entries were removed`;
    if (!this.atCheckpoint.has(seq)) return `${what} names an entry that does not exist: entries were removed`;
    if (this.atCheckpoint.get(seq) !== c.hash) return `${what} does not match the chain: entries after seq ${previousGood} were rewritten, or the checkpoint is forged`;
    return undefined;
  }

  /** Evidence rules: a sealed chain, no gap over twice the interval, no old unsealed tail. */
  private unproven(sealed: Sealed[], lastGoodSeq: number | undefined, headSeq: number | undefined, o: AuditChainVerifyOptions): string[] {
    const reasons: string[] = [];
    if (headSeq === undefined) return reasons;
    const seconds = o.intervalSeconds ?? 0;
    const entries = o.intervalEntries ?? 0;
    if (!this.checkpoints.length) reasons.push(`the chain has ${this.checked} entries and no checkpoint: nothing proves it was not rewritten or cut`);
    else if (lastGoodSeq === undefined) reasons.push('no checkpoint is signed by a trusted (not revoked) key');
    let prior: Sealed | undefined;
    for (const c of sealed) {
      // The spacing rules hold from the first checkpoint with a `prev` link; older gateways did not follow them.
      if (c.linked) {
        const from = prior?.seq ?? 0;
        if (entries > 0 && c.seq - from > 2 * entries) {
          reasons.push(`checkpoints at seq ${from} and ${c.seq} are ${c.seq - from} entries apart, more than twice the interval (${entries}): checkpoints were removed, or the gateway did not seal`);
        }
        const waitedFrom = prior ? this.firstAfter.get(prior.seq) : this.firstAt;
        if (seconds > 0 && waitedFrom !== undefined && c.at - waitedFrom > 2 * seconds * 1000) {
          reasons.push(
            `entries after seq ${from} waited ${Math.round((c.at - waitedFrom) / 1000)} s for a checkpoint (seq ${c.seq}), more than twice the interval (${seconds} s): checkpoints were removed, or the gateway did not seal`,
          );
        }
      }
      prior = c;
    }
    if (lastGoodSeq !== undefined && lastGoodSeq < headSeq) {
      const oldest = this.firstAfter.get(lastGoodSeq);
      if (entries > 0 && headSeq - lastGoodSeq > 2 * entries)
        reasons.push(`${headSeq - lastGoodSeq} entries after seq ${lastGoodSeq} are not covered by a trusted checkpoint, more than twice the interval (${entries})`);
      if (seconds > 0 && oldest !== undefined && o.now !== undefined && o.now - oldest > 2 * seconds * 1000) {
        reasons.push(
          `entries after seq ${lastGoodSeq} are not covered by a trusted checkpoint and the oldest is ${Math.round((o.now - oldest) / 1000)} s old, more than twice the interval (${seconds} s)`,
        );
      }
    }
    return reasons;
  }
}

/** Verifies one checkpoint's JWS with outside keys; the kid is the signed header's, never the column's. */
async function verifyCheckpoint(c: AuditChainCheckpoint, seq: number, keys: Keys, issuer?: string): Promise<{ kid: string; claims: Partial<AuditCheckpointClaims> } | { problem: string }> {
  const what = `checkpoint at seq ${seq}`;
  let claims: Partial<AuditCheckpointClaims>;
  const verified = verifyJwsWithKeySet(c.signature, keys, AUDIT_CHECKPOINT_ALGORITHMS);
  if ('problem' in verified) {
    return { problem: `${what}: signature does not verify with the keys given (${verified.problem}, header kid ${claimedKid(c.signature)}): forged, or signed by a key not in the key set` };
  }
  const header = verified.header;
  try {
    claims = JSON.parse(verified.payload.toString('utf8')) as Partial<AuditCheckpointClaims>;
  } catch {
    return { problem: `${what}: signed payload is not JSON` };
  }
  if (!claims || typeof claims !== 'object') return { problem: `${what}: signed payload is not a claims object` };
  if (header.typ !== AUDIT_CHECKPOINT_TYP) return { problem: `${what}: signed token is not a checkpoint (typ ${String(header.typ)})` };
  if (typeof header.kid !== 'string') return { problem: `${what}: signed header names no key (kid)` };
  if (header.kid !== c.kid) return { problem: `${what}: stored kid ${String(c.kid).slice(0, 64)} differs from the key that signed it (${header.kid})` };
  if (claims.seq !== seq || claims.hash !== c.hash || claims.at !== ms(c.at)) return { problem: `${what}: signed claims differ from the stored checkpoint` };
  if (issuer !== undefined && claims.iss !== issuer) return { problem: `${what}: signed by ${String(claims.iss)}, not ${issuer}` };
  if (claims.prev !== undefined && (typeof claims.prev !== 'string' || !/^[0-9a-f]{64}$/.test(claims.prev))) return { problem: `${what}: prev claim is not a hex SHA-256` };
  return { kid: header.kid, claims };
}

/** The `prev` rule: each linked checkpoint names the checkpoint stored just before it. */
function linkProblem(seq: number, prev: string | undefined, previous: AuditChainCheckpoint | undefined, linking: boolean): string | undefined {
  if (prev === undefined) return linking ? `checkpoint at seq ${seq} has no prev link although an earlier checkpoint has one: forged or out of place` : undefined;
  const expected = previous ? checkpointLink(previous.signature) : GENESIS_HASH;
  if (prev === expected) return undefined;
  return previous
    ? `checkpoint at seq ${seq} does not link to the checkpoint stored before it (seq ${Number(previous.seq)}): a checkpoint between them was removed or replaced`
    : `checkpoint at seq ${seq} links to an earlier checkpoint that is not stored: checkpoints were removed`;
}

/** The kid an unverified token claims, for messages only. */
function claimedKid(signature: string): string {
  try {
    const kid = decodeProtectedHeader(signature).kid;
    return typeof kid === 'string' ? kid.slice(0, 64) : 'none';
  } catch {
    return 'unreadable';
  }
}

/**
 * Verifies a whole chain: recomputes every hash in seq order, checks each prev_hash link, then
 * each checkpoint (hash at its seq; signature, kid, claims and prev link when keys are given).
 * Names the first bad entry.
 */
export async function verifyAuditChain(
  rows: AuditChainRow[],
  checkpoints: AuditChainCheckpoint[],
  jwks?: JSONWebKeySet,
  options: Omit<AuditChainVerifyOptions, 'jwks'> = {},
): Promise<AuditChainReport> {
  const verifier = new AuditChainVerifier(checkpoints, options.exported);
  // Stable: of two rows with one seq, the earlier one in the input is taken as the original.
  for (const row of [...rows].sort((a, b) => Number(a.seq) - Number(b.seq))) verifier.add(row);
  return verifier.finish({ ...options, jwks });
}
