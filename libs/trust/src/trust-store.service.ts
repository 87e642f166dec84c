import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { KeyObject } from 'node:crypto';
import { JWK } from 'jose';
import { JwsAlgorithm, PublicJwkError, importPublicJwk, jwkAlgorithm, publicJwkThumbprint } from '@tongban/gm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { AuditLog } from '@tongban/audit';
import { Clock, DomainException, ParticipantDirectory, SELF_CODE, ValidationException, RetriedReload, errorMessage, parseOrThrow } from '@tongban/common';
import { isUniqueViolation, runInTransaction } from '@tongban/persistence';
import { PeerEntity } from './peer.entity';
import { PeerKeyEntity, PeerKeyStatus } from './peer-key.entity';
import { createPeerSchema, publicJwkSchema, updatePeerKeySchema, updatePeerSchema } from './peer.schemas';

/** How far along its life a peer key is; announcements only move a key forward. */
const KEY_RANK: Record<PeerKeyStatus, number> = { ACTIVE: 0, RETIRED: 1, REVOKED: 2 };

/** A trusted public key, imported and ready to verify with. */
export interface TrustedKey {
  kid: string;
  alg: JwsAlgorithm;
  status: PeerKeyStatus;
  key: KeyObject;
  jwk: JWK;
  addedAt: Date;
  retiredAt: Date | null;
  /** RETIRED keys only: until then envelopes signed with it are still accepted (a rotation the peer announced); null = never. */
  envelopesUntil: Date | null;
}

/** A peer with its keys, as held in memory. */
export interface TrustedPeer {
  code: string;
  name: string;
  endpoint: string;
  status: PeerEntity['status'];
  allowedLicenceTypes: string[];
  allowedItems: string[];
  allowedRoles: string[];
  rateLimitPerSecond: number | null;
  /** JWS algorithms this peer must sign with; null = any on the allow-list. */
  allowedAlgs: JwsAlgorithm[] | null;
  /** Whether this peer may subscribe to licence status notices. */
  allowNotices: boolean;
  keys: Map<string, TrustedKey>;
}

/** Admin view of a peer. */
export interface PeerView {
  code: string;
  name: string;
  endpoint: string;
  status: string;
  allowedLicenceTypes: string[];
  allowedItems: string[];
  allowedRoles: string[];
  rateLimitPerSecond: number | null;
  allowedAlgs: string[] | null;
  allowNotices: boolean;
  keys: { kid: string; alg: string; status: string; addedAt: string; jwk: JWK }[];
}

/**
 * Which peers we know, where they are, which keys we trust for each and what they may ask.
 * Reads are served from an in-memory snapshot; writes go to the database and reload it.
 */
@Injectable()
export class TrustStore implements OnModuleDestroy {
  private readonly logger = new Logger('TrustStore');
  private peers = new Map<string, TrustedPeer>();
  /**
   * The key objects of the last snapshot by algorithm and stored JWK text: a refresh (on another
   * replica's change, and every TONGBAN_TRUST_REFRESH_S) hands the same object on for an unchanged key, so what a key object
   * caches (an SM2 key's comb table, ≈ 1 ms to build on its first verification) survives it.
   */
  private imported = new Map<string, KeyObject>();
  private readonly peerRepo: Repository<PeerEntity>;
  private readonly keyRepo: Repository<PeerKeyEntity>;
  private readonly refreshListeners = new Set<() => void>();
  private readonly reloads = new RetriedReload('trust store', () => this.load(), this.logger);

  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    private readonly participants: ParticipantDirectory,
    @Inject(SELF_CODE) private readonly self: string,
    private readonly audit: AuditLog,
  ) {
    this.peerRepo = ds.getRepository(PeerEntity);
    this.keyRepo = ds.getRepository(PeerKeyEntity);
  }

  /**
   * Reloads the snapshot from the database (at boot, after a change, and periodically for replicas).
   * A reload that fails is tried again in the background (0.5 s doubling to 30 s) until one
   * succeeds, and the caller still gets the error: the change that asked for the reload is
   * committed (a peer's key revoked by its announcement, a peer suspended by an administrator, a
   * directory applied), and the snapshot must not stay behind it until the next periodic reload,
   * or for good with `TONGBAN_TRUST_REFRESH_S=0`.
   */
  async refresh(): Promise<void> {
    return this.reloads.run();
  }

  /** Stops a pending retry (shutdown). */
  onModuleDestroy(): void {
    this.reloads.stop();
  }

  private async load(): Promise<void> {
    const [peers, keys] = await Promise.all([this.peerRepo.find(), this.keyRepo.find()]);
    const next = new Map<string, TrustedPeer>();
    for (const p of peers) {
      next.set(p.code, {
        code: p.code,
        name: p.name,
        endpoint: p.endpoint,
        status: p.status,
        allowedLicenceTypes: p.allowedLicenceTypes,
        allowedItems: p.allowedItems ?? ['*'],
        allowedRoles: p.allowedRoles ?? ['*'],
        rateLimitPerSecond: p.rateLimitPerSecond ?? null,
        allowedAlgs: (p.allowedAlgs as JwsAlgorithm[] | null) ?? null,
        allowNotices: p.allowNotices !== false,
        keys: new Map(),
      });
    }
    const imported = new Map<string, KeyObject>();
    for (const k of keys) {
      const peer = next.get(k.peerCode);
      if (!peer) continue;
      const jwk = JSON.parse(k.publicJwk) as JWK;
      const importKey = `${k.alg}\n${k.publicJwk}`;
      let key = this.imported.get(importKey);
      try {
        key ??= importPublicJwk(jwk, k.alg as JwsAlgorithm);
      } catch {
        this.logger.error(`key ${k.kid} of peer ${k.peerCode} is not a usable ${k.alg} key; it is ignored`);
        continue;
      }
      imported.set(importKey, key);
      peer.keys.set(k.kid, { kid: k.kid, alg: k.alg as TrustedKey['alg'], status: k.status, key, jwk, addedAt: k.addedAt, retiredAt: k.retiredAt, envelopesUntil: k.envelopesUntil ?? null });
    }
    this.peers = next;
    this.imported = imported;
    for (const listener of this.refreshListeners) {
      try {
        listener();
      } catch (e) {
        this.logger.error(`a trust store listener failed: ${errorMessage(e)}`);
      }
    }
  }

  /** Calls `listener` after every reload of the snapshot (boot, admin change, periodic refresh); returns an unsubscribe. */
  onRefresh(listener: () => void): () => void {
    this.refreshListeners.add(listener);
    return () => this.refreshListeners.delete(listener);
  }

  /** Every peer we know, as held in memory (no admin view is built). */
  allPeers(): IterableIterator<TrustedPeer> {
    return this.peers.values();
  }

  /** The peer with this code, if we know it. */
  peer(code: string): TrustedPeer | undefined {
    return this.peers.get(code);
  }

  /** All peers as admins see them. */
  list(): PeerView[] {
    return [...this.peers.values()].sort((a, b) => a.code.localeCompare(b.code)).map((p) => this.view(p));
  }

  /** One peer as admins see it; 404 when unknown. */
  get(code: string): PeerView {
    const p = this.peers.get(code);
    if (!p) throw new DomainException('NOT_FOUND', `peer ${code} is not in the trust store`);
    return this.view(p);
  }

  /** Whether `peer` may ask us about licences of `licenceType`. */
  allowsLicenceType(peer: TrustedPeer, licenceType: string): boolean {
    return peer.allowedLicenceTypes.includes('*') || peer.allowedLicenceTypes.includes(licenceType);
  }

  /** Whether `peer` may route cases of `itemCode` to us. */
  allowsItem(peer: TrustedPeer, itemCode: string): boolean {
    return peer.allowedItems.includes('*') || peer.allowedItems.includes(itemCode);
  }

  /** Whether `peer` may take the case role `role` (e.g. ORIGIN) in cases shared with us. */
  allowsRole(peer: TrustedPeer, role: string): boolean {
    return peer.allowedRoles.includes('*') || peer.allowedRoles.includes(role);
  }

  /** Adds a peer (and optionally its keys). 409 when it exists already. */
  async create(body: unknown, actor: string): Promise<PeerView> {
    const input = parseOrThrow(createPeerSchema, body);
    const participant = this.participants.get(input.code);
    if (!participant) throw new ValidationException('code', 'UNKNOWN_PARTICIPANT', 'code: not a known participant code');
    if (input.code === this.self) throw new ValidationException('code', 'SELF', 'code: a gateway cannot add itself as a peer');
    const keys = await Promise.all(input.keys.map((jwk, i) => this.prepareKey(input.code, jwk, `keys.${i}`)));
    const now = this.clock.now();
    await runInTransaction(this.ds, async (tx) => {
      if (await tx.getRepository(PeerEntity).findOneBy({ code: input.code })) {
        throw new DomainException('CONFLICT', `peer ${input.code} exists already; use PATCH to change it`);
      }
      await tx.getRepository(PeerEntity).insert({
        code: input.code,
        name: input.name ?? participant.name,
        endpoint: input.endpoint,
        status: input.status,
        allowedLicenceTypes: input.allowedLicenceTypes,
        allowedItems: input.allowedItems,
        allowedRoles: input.allowedRoles,
        rateLimitPerSecond: input.rateLimitPerSecond,
        allowedAlgs: input.allowedAlgs,
        allowNotices: input.allowNotices,
        createdAt: now,
        updatedAt: now,
      });
      for (const k of keys) await tx.getRepository(PeerKeyEntity).insert({ ...k, addedAt: now, retiredAt: null });
    }).catch((e) => {
      throw isUniqueViolation(e) ? new DomainException('CONFLICT', `peer ${input.code} exists already; use PATCH to change it`) : e;
    });
    await this.audit.recordNow({ event: 'admin.peer.created', actor, subject: input.code, outcome: 'OK', details: { endpoint: input.endpoint, keys: keys.map((k) => k.kid).join(',') } });
    await this.refresh();
    return this.get(input.code);
  }

  /** Changes a peer's name, endpoint, status or policy (licence types, items, roles, rate limit). */
  async update(code: string, body: unknown, actor: string): Promise<PeerView> {
    const input = parseOrThrow(updatePeerSchema, body);
    this.get(code);
    await this.peerRepo.update({ code }, { ...input, updatedAt: this.clock.now() });
    await this.audit.recordNow({
      event: 'admin.peer.updated',
      actor,
      subject: code,
      outcome: 'OK',
      details: { changed: Object.keys(input).join(','), ...(input.status ? { status: input.status } : {}) },
    });
    await this.refresh();
    return this.get(code);
  }

  /** Trusts one more public key for a peer. */
  async addKey(code: string, body: unknown, actor: string): Promise<PeerView> {
    this.get(code);
    const jwk = parseOrThrow(publicJwkSchema, body);
    const key = await this.prepareKey(code, jwk, '');
    if (this.peers.get(code)!.keys.has(key.kid)) throw new DomainException('CONFLICT', `key ${key.kid} is already trusted for ${code}`);
    await this.keyRepo.insert({ ...key, addedAt: this.clock.now(), retiredAt: null }).catch((e) => {
      throw isUniqueViolation(e) ? new DomainException('CONFLICT', `key ${key.kid} is already trusted for ${code}`) : e;
    });
    await this.audit.recordNow({ event: 'admin.peer.key.added', actor, subject: `${code}/${key.kid}`, outcome: 'OK' });
    await this.refresh();
    return this.get(code);
  }

  /**
   * Retires (keeps for old attestations, refuses its envelopes at once) or revokes (trusts no
   * longer) a peer key. An administrator's decision takes effect now: no rotation grace.
   */
  async setKeyStatus(code: string, kid: string, body: unknown, actor: string): Promise<PeerView> {
    const { status } = parseOrThrow(updatePeerKeySchema, body);
    const peer = this.peers.get(code);
    if (!peer?.keys.has(kid)) throw new DomainException('NOT_FOUND', `key ${kid} is not trusted for peer ${code}`);
    await this.keyRepo.update({ peerCode: code, kid }, { status, retiredAt: status === 'ACTIVE' ? null : this.clock.now(), envelopesUntil: null });
    await this.audit.recordNow({ event: 'admin.peer.key.status_changed', actor, subject: `${code}/${kid}`, outcome: 'OK', details: { status } });
    await this.refresh();
    return this.get(code);
  }

  /**
   * Applies a peer's key announcement inside the inbox transaction (the envelope carrying it was
   * signed by a key we already trust for that peer). A key only moves forward, ACTIVE → RETIRED →
   * REVOKED: an announcement of a state we already hold (or one we are past, e.g. learned from the
   * directory or an administrator first) changes nothing and is acknowledged, never refused, so the
   * ordered `keys` stream moves on. A retirement announced by the peer keeps accepting envelopes
   * signed with that key for `retiredGraceMs` after the retirement (messages already in flight).
   */
  async applyAnnouncement(tx: EntityManager, peerCode: string, jwk: JWK, status: PeerKeyStatus, at: Date, retiredGraceMs: number): Promise<{ kid: string; changed: boolean }> {
    const input = publicJwkSchema.safeParse(jwk);
    if (!input.success) throw new DomainException('VALIDATION_FAILED', 'announced key is not an acceptable public JWK', { rule: 'KEY_TYPE' });
    const key = await this.prepareKey(peerCode, input.data, 'jwk');
    const repo = tx.getRepository(PeerKeyEntity);
    const existing = await repo.findOneBy({ peerCode, kid: key.kid });
    if (existing && KEY_RANK[status] <= KEY_RANK[existing.status]) return { kid: key.kid, changed: false };
    // The retirement time is the peer's word, but never later than now (no grace into the future).
    const now = this.clock.now();
    const retiredAt = status === 'ACTIVE' ? null : at.getTime() > now.getTime() ? now : at;
    const envelopesUntil = status === 'RETIRED' ? new Date(retiredAt!.getTime() + retiredGraceMs) : null;
    if (!existing) await repo.insert({ ...key, status, addedAt: at, retiredAt, envelopesUntil });
    else await repo.update({ peerCode, kid: key.kid }, { status, retiredAt, envelopesUntil });
    return { kid: key.kid, changed: true };
  }

  private async prepareKey(peerCode: string, jwk: JWK, field: string) {
    const pub: JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, ...(jwk.y ? { y: jwk.y } : {}) };
    const kid = publicJwkThumbprint(pub);
    if (jwk.kid && jwk.kid !== kid) {
      throw new ValidationException(`${field ? field + '.' : ''}kid`, 'KID_THUMBPRINT', `${field || 'key'}: kid must be the RFC 7638 SHA-256 thumbprint of the key`);
    }
    const alg = jwkAlgorithm(pub);
    if (!alg) throw new ValidationException(field || 'key', 'KEY_TYPE', `${field || 'key'}: not a key type of EdDSA, ES256 or SM2SM3`);
    try {
      importPublicJwk({ ...pub, ...(jwk.alg !== undefined ? { alg: jwk.alg } : {}) }, alg);
    } catch (e) {
      // SM2 keys are refused by name (SM2_POINT_NOT_ON_CURVE, SM2_ALG_MISMATCH, …), others as KEY_MATERIAL.
      const code = e instanceof PublicJwkError ? e.code : 'KEY_MATERIAL';
      throw new ValidationException(field || 'key', code, `${field || 'key'}: not a usable ${alg} public key${e instanceof PublicJwkError && code !== 'KEY_MATERIAL' ? ` (${e.message})` : ''}`);
    }
    return { peerCode, kid, alg, publicJwk: JSON.stringify({ ...pub, kid, alg, use: 'sig' }), status: 'ACTIVE' as PeerKeyStatus };
  }

  private view(p: TrustedPeer): PeerView {
    return {
      code: p.code,
      name: p.name,
      endpoint: p.endpoint,
      status: p.status,
      allowedLicenceTypes: p.allowedLicenceTypes,
      allowedItems: p.allowedItems,
      allowedRoles: p.allowedRoles,
      rateLimitPerSecond: p.rateLimitPerSecond,
      allowedAlgs: p.allowedAlgs,
      allowNotices: p.allowNotices,
      keys: [...p.keys.values()].map((k) => ({ kid: k.kid, alg: k.alg, status: k.status, addedAt: k.addedAt.toISOString(), jwk: k.jwk })),
    };
  }
}
