import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ParticipantDirectory, SELF_CODE } from '@tongban/common';
import { jwkAlgorithm } from '@tongban/gm';
import { PeerEntity, PeerKeyEntity, PeerKeyStatus } from '@tongban/trust';
import { DirectoryDocument, DirectoryKey, DirectoryParticipant, directoryDocumentSchema } from './directory-document';
import { DIRECTORY_STATE_ID, DirectoryStateEntity } from './directory-state.entity';
import { runInTransaction } from '@tongban/persistence';

/** The row of `directory_state`: the last directory applied here or by another replica. */
export interface StoredDirectory {
  serial: number | null;
  jws: string | null;
  appliedAt: Date | null;
  notAfter: Date | null;
}

/** What one apply changed in the trust store. */
export interface DirectoryChanges {
  /** Peers created from the directory. */
  added: string[];
  /** Existing peers whose name, endpoint or status changed. */
  updated: string[];
  keysAdded: number;
  keysChanged: number;
  /** Listed participants this gateway does not know (data/participants.json): not applied. */
  skipped: string[];
  /** Local peers the directory does not list: left alone. */
  notListed: string[];
}

const RANK: Record<PeerKeyStatus, number> = { ACTIVE: 0, RETIRED: 1, REVOKED: 2 };

/**
 * Applies a verified directory to the trust store's tables in one transaction, with the new
 * `directory_state` row. Policy (allowed licence types, items, rate limit) is never touched.
 *
 * Rules, so that local decisions stand until the directory itself changes the same thing:
 * - a participant new here is added (except ourselves), with its keys;
 * - name and endpoint follow the directory when it lists the participant for the first time or
 *   changed the value since the directory applied before;
 * - the directory suspends when it says SUSPENDED and did not already say so before; it lifts only
 *   a suspension it made itself (a peer suspended by a local admin stays suspended);
 * - a key REVOKED in the directory is revoked here; a key revoked here is never brought back;
 *   other key statuses follow the directory when it changed them (or, for a key it lists for the
 *   first time, only towards RETIRED);
 * - peers and keys the directory does not list are left alone.
 */
@Injectable()
export class DirectoryApplier {
  constructor(
    private readonly ds: DataSource,
    private readonly participants: ParticipantDirectory,
    @Inject(SELF_CODE) private readonly self: string,
  ) {}

  /** The stored state (all null before the first apply). */
  async load(): Promise<StoredDirectory> {
    const row = await this.ds.getRepository(DirectoryStateEntity).findOneBy({ id: DIRECTORY_STATE_ID });
    return { serial: row?.serial ?? null, jws: row?.jws ?? null, appliedAt: row?.appliedAt ?? null, notAfter: row?.notAfter ?? null };
  }

  /**
   * Applies `doc` if `stillNewer` (called inside the transaction with the row locked, so replicas
   * racing on one database apply a serial once and never go back) agrees. Returns null when not.
   */
  async apply(doc: DirectoryDocument, jws: string, at: Date, stillNewer: (stored: StoredDirectory) => Promise<boolean>): Promise<DirectoryChanges | null> {
    return runInTransaction(this.ds, async (tx) => {
      const stateRepo = tx.getRepository(DirectoryStateEntity);
      const where = { id: DIRECTORY_STATE_ID };
      const row = tx.connection.options.type === 'postgres' ? await stateRepo.findOne({ where, lock: { mode: 'pessimistic_write' } }) : await stateRepo.findOne({ where });
      const stored: StoredDirectory = { serial: row?.serial ?? null, jws: row?.jws ?? null, appliedAt: row?.appliedAt ?? null, notAfter: row?.notAfter ?? null };
      if (!(await stillNewer(stored))) return null;
      const changes = await this.applyIn(tx, doc, previousDocument(stored.jws), at);
      const next = { id: DIRECTORY_STATE_ID, serial: doc.serial, jws, appliedAt: at, notAfter: new Date(doc.notAfter) };
      if (row) await stateRepo.update(where, next);
      else await stateRepo.insert(next);
      return changes;
    });
  }

  private async applyIn(tx: EntityManager, doc: DirectoryDocument, prev: DirectoryDocument | null, at: Date): Promise<DirectoryChanges> {
    const peers = tx.getRepository(PeerEntity);
    const keys = tx.getRepository(PeerKeyEntity);
    const changes: DirectoryChanges = { added: [], updated: [], keysAdded: 0, keysChanged: 0, skipped: [], notListed: [] };
    const listed = new Set(doc.participants.map((p) => p.code));
    for (const p of doc.participants) {
      if (p.code === this.self) continue;
      if (!this.participants.has(p.code)) {
        changes.skipped.push(p.code);
        continue;
      }
      const before = prev?.participants.find((q) => q.code === p.code);
      const local = await peers.findOneBy({ code: p.code });
      if (!local) {
        await peers.insert({
          code: p.code,
          name: p.name,
          endpoint: p.endpoint,
          status: p.status,
          allowedLicenceTypes: ['*'],
          allowedItems: ['*'],
          allowedRoles: ['*'],
          rateLimitPerSecond: null,
          allowedAlgs: null,
          allowNotices: true,
          createdAt: at,
          updatedAt: at,
        });
        for (const k of p.keys) await keys.insert(keyRow(p.code, k, at));
        changes.added.push(p.code);
        changes.keysAdded += p.keys.length;
        continue;
      }
      const patch = peerPatch(local, p, before);
      if (Object.keys(patch).length) {
        await peers.update({ code: p.code }, { ...patch, updatedAt: at });
        changes.updated.push(p.code);
      }
      for (const k of p.keys) {
        const existing = await keys.findOneBy({ peerCode: p.code, kid: k.kid });
        if (!existing) {
          await keys.insert(keyRow(p.code, k, at));
          changes.keysAdded++;
          continue;
        }
        const status = keyStatus(existing.status, k.status, before?.keys.find((b) => b.kid === k.kid)?.status);
        if (status) {
          await keys.update({ peerCode: p.code, kid: k.kid }, { status, retiredAt: status === 'ACTIVE' ? null : at, envelopesUntil: null });
          changes.keysChanged++;
        }
      }
    }
    for (const p of await peers.find({ select: { code: true } })) if (!listed.has(p.code)) changes.notListed.push(p.code);
    return changes;
  }
}

/** The directory applied before (stored JWS, checked when it was applied), or null. */
function previousDocument(jws: string | null): DirectoryDocument | null {
  if (!jws) return null;
  try {
    const r = directoryDocumentSchema.safeParse(JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

function peerPatch(local: PeerEntity, p: DirectoryParticipant, before: DirectoryParticipant | undefined): Partial<PeerEntity> {
  const patch: Partial<PeerEntity> = {};
  if (p.name !== local.name && (!before || before.name !== p.name)) patch.name = p.name;
  if (p.endpoint !== local.endpoint && (!before || before.endpoint !== p.endpoint)) patch.endpoint = p.endpoint;
  if (p.status === 'SUSPENDED' && local.status === 'ACTIVE' && before?.status !== 'SUSPENDED') patch.status = 'SUSPENDED';
  if (p.status === 'ACTIVE' && local.status === 'SUSPENDED' && before?.status === 'SUSPENDED') patch.status = 'ACTIVE';
  return patch;
}

/** The status a known key moves to, or null to leave it. */
function keyStatus(local: PeerKeyStatus, listed: PeerKeyStatus, before: PeerKeyStatus | undefined): PeerKeyStatus | null {
  if (local === listed || local === 'REVOKED') return null;
  if (listed === 'REVOKED') return 'REVOKED';
  if (before === undefined) return RANK[listed] > RANK[local] ? listed : null;
  return before !== listed ? listed : null;
}

function keyRow(peerCode: string, k: DirectoryKey, at: Date): PeerKeyEntity {
  // The document schema has checked the key imports for this algorithm.
  const alg = jwkAlgorithm(k.jwk)!;
  const pub = { kty: k.jwk.kty, crv: k.jwk.crv, x: k.jwk.x, ...(k.jwk.y ? { y: k.jwk.y } : {}) };
  // Same stored form as keys added through the admin API (TrustStore).
  return { peerCode, kid: k.kid, alg, publicJwk: JSON.stringify({ ...pub, kid: k.kid, alg, use: 'sig' }), status: k.status, addedAt: at, retiredAt: k.status === 'ACTIVE' ? null : at };
}
