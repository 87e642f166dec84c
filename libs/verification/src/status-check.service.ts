import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock, SELF_CODE, errorMessage } from '@tongban/common';
import { PeerClient, SignedTokenVerifier } from '@tongban/federation';
import { DecodedStatusList, STATUS_LIST_ID, STATUS_LIST_TYP, StatusListClaims, StatusListPublisher, StatusRef, decodeStatusList, listedEntry } from '@tongban/licences';
import { GetStatusListPayload, StatusListPayload } from '@tongban/proto';
import { StatusListCacheEntity } from './status-list-cache.entity';

/** What `POST /v1/attestations/verify` says about an attestation's licence now (docs/protocol-status.md §4). */
export interface CurrentStatus {
  /** From the list; UNKNOWN when no list could be had (then `reason` says why). */
  status: 'VALID' | 'SUSPENDED' | 'REVOKED' | 'UNKNOWN';
  /** When the licence got that status (SUSPENDED / REVOKED), as the list says. */
  changedAt: string | null;
  /** When this check was made. */
  statusCheckedAt: string;
  list: {
    id: string;
    version: number;
    /** The list's iat: its facts are true as of this instant. */
    issuedAt: string;
    ageSeconds: number;
    ttlSeconds: number;
    /** false: older than its ttl (the issuer could not be reached for a newer one). */
    fresh: boolean;
    /** issuer: fetched now; cache: a copy fetched earlier; own: this gateway's own list. */
    source: 'issuer' | 'cache' | 'own';
    fetchedAt: string;
  } | null;
  /** Why the answer is not from a fresh list: ISSUER_UNREACHABLE, LIST_INVALID, NOT_IN_LIST. */
  reason?: string;
}

// A list may be far larger than an attestation; GetStatusList's payload limit bounds it anyway.
const MAX_LIST_JWS = 4 * 1024 * 1024;
const DECODED_KEEP = 64;

/**
 * Asker side of status lists: answers an attestation's `statusRef` from a list no older than the
 * list's own ttl, fetching a newer one (GetStatusList) when the cached one is older; when the issuer
 * cannot be reached, from the cached list, marked stale with its age. Never claims a freshness it
 * does not have. A fetched list is checked like an attestation (SignedTokenVerifier: trust store,
 * algorithm policy, key status), must name the issuer and list asked for, and never replaces a
 * cached list of a higher version.
 */
@Injectable()
export class AttestationStatusCheck {
  private readonly logger = new Logger('StatusCheck');
  private readonly decoded = new Map<string, DecodedStatusList>();

  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    private readonly peers: PeerClient,
    private readonly verifier: SignedTokenVerifier,
    private readonly publisher: StatusListPublisher,
    @Inject(SELF_CODE) private readonly self: string,
  ) {}

  /**
   * The current status of the attestation's licence; undefined when it carries no (well-formed)
   * statusRef. `attested` is what the attestation itself says (its iat and status): a cached list
   * signed before it that says otherwise is older news than the attestation, so a newer one is fetched.
   */
  async currentStatus(iss: string, ref: unknown, attested?: Attested): Promise<CurrentStatus | undefined> {
    if (!isRef(ref)) return undefined;
    const now = this.clock.now();
    const cache = this.ds.getRepository(StatusListCacheEntity);
    let row: StatusListCacheEntity | null;
    let source: 'issuer' | 'cache' | 'own';
    let reason: string | undefined;
    if (iss === this.self) {
      const own = await this.publisher.serve(ref.list);
      if (!own) return unknown(now, 'NOT_IN_LIST');
      row = Object.assign(new StatusListCacheEntity(), { issuer: iss, listId: ref.list, version: own.version, jws: own.jws, fetchedAt: now, issuedAt: now });
      source = 'own';
    } else {
      row = await cache.findOneBy({ issuer: iss, listId: ref.list });
      source = 'cache';
      if (!row || !this.isFresh(row, now) || (await this.predates(row, iss, ref, attested))) {
        try {
          row = await this.fetch(iss, ref.list, row);
          source = 'issuer';
        } catch (e) {
          reason = e instanceof ListInvalid ? 'LIST_INVALID' : 'ISSUER_UNREACHABLE';
          this.logger.warn(`status list ${iss}/${ref.list} not fetched (${reason}): ${errorMessage(e)}`);
          if (!row) return unknown(now, reason);
        }
      }
    }
    const claims = await this.verified(row.jws, iss, ref.list);
    if (!claims) return unknown(now, 'LIST_INVALID');
    const list = this.decode(iss, claims);
    if (!list || ref.idx >= list.size) return unknown(now, list ? 'NOT_IN_LIST' : 'LIST_INVALID');
    const entry = listedEntry(list, ref.idx);
    const ageSeconds = Math.max(0, Math.floor(now.getTime() / 1000) - claims.iat);
    const fresh = ageSeconds <= claims.ttl;
    return {
      status: entry.status,
      changedAt: entry.changedAt === null ? null : new Date(entry.changedAt * 1000).toISOString(),
      statusCheckedAt: now.toISOString(),
      list: { id: ref.list, version: claims.ver, issuedAt: new Date(claims.iat * 1000).toISOString(), ageSeconds, ttlSeconds: claims.ttl, fresh, source, fetchedAt: row.fetchedAt.toISOString() },
      ...(reason || !fresh ? { reason: reason ?? 'ISSUER_UNREACHABLE' } : {}),
    };
  }

  private isFresh(row: StatusListCacheEntity, now: Date): boolean {
    // Whole seconds, as iat is: fresh while the age is at most the ttl (docs/protocol-status.md §4).
    const ttl = ttlOf(row.jws);
    return ttl !== null && Math.floor(now.getTime() / 1000) - Math.floor(row.issuedAt.getTime() / 1000) <= ttl;
  }

  /**
   * Whether the cached list was signed before the attestation, or in the same second (iat is whole
   * seconds, so within one second the order is unknown), and says another status for its entry:
   * e.g. a licence imported as REVOKED, attested for the first time after the list was cached (its
   * index was handed out after that list was signed), or a change between the two.
   */
  private async predates(row: StatusListCacheEntity, iss: string, ref: StatusRef, attested: Attested | undefined): Promise<boolean> {
    if (!attested || !Number.isSafeInteger(attested.iat) || Math.floor(row.issuedAt.getTime() / 1000) > attested.iat) return false;
    if (!['VALID', 'SUSPENDED', 'REVOKED'].includes(String(attested.status))) return false;
    const claims = await this.verified(row.jws, iss, ref.list);
    const list = claims && this.decode(iss, claims);
    return !!list && ref.idx < list.size && listedEntry(list, ref.idx).status !== attested.status;
  }

  /** Fetches, checks and caches the issuer's list; keeps the cached one if the fetched one is older. */
  private async fetch(iss: string, listId: string, cached: StatusListCacheEntity | null): Promise<StatusListCacheEntity> {
    const bytes = await this.peers.call(iss, 'GetStatusList', GetStatusListPayload.encode({ listId }).finish());
    const answer = StatusListPayload.decode(bytes);
    const claims = await this.verified(answer.statusListJws, iss, listId);
    if (!claims || answer.listId !== listId || claims.ver !== answer.version) throw new ListInvalid(`the list ${iss} sent does not check or does not match ${listId} v${answer.version}`);
    if (!this.decode(iss, claims)) throw new ListInvalid(`the list ${iss} sent does not decode`);
    if (cached && (claims.ver < cached.version || claims.iat * 1000 < cached.issuedAt.getTime())) return cached;
    const row = Object.assign(new StatusListCacheEntity(), { issuer: iss, listId, version: claims.ver, issuedAt: new Date(claims.iat * 1000), fetchedAt: this.clock.now(), jws: answer.statusListJws });
    await this.ds.getRepository(StatusListCacheEntity).save(row);
    return row;
  }

  private async verified(jws: string, iss: string, listId: string): Promise<StatusListClaims | null> {
    const r = await this.verifier.check<StatusListClaims>(jws, STATUS_LIST_TYP, MAX_LIST_JWS);
    if (!r.valid) return null;
    const c = r.claims;
    const ints = [c.iat, c.ver, c.ttl].every((n) => Number.isSafeInteger(n) && n >= 0);
    return ints && c.iss === iss && c.sub === listId ? c : null;
  }

  private decode(iss: string, claims: StatusListClaims): DecodedStatusList | null {
    const key = `${iss}/${claims.sub}/${claims.ver}/${claims.iat}`;
    const hit = this.decoded.get(key);
    if (hit) return hit;
    try {
      const list = decodeStatusList(claims);
      if (this.decoded.size >= DECODED_KEEP) this.decoded.clear();
      this.decoded.set(key, list);
      return list;
    } catch {
      return null;
    }
  }
}

class ListInvalid extends Error {}

/** What an attestation says of its licence: when it was signed (seconds) and the status then. */
export interface Attested {
  iat: number;
  status: unknown;
}

function isRef(ref: unknown): ref is StatusRef {
  const r = ref as Partial<StatusRef> | null | undefined;
  return typeof r === 'object' && r !== null && typeof r.list === 'string' && STATUS_LIST_ID.test(r.list) && Number.isSafeInteger(r.idx) && r.idx! >= 0;
}

function ttlOf(jws: string): number | null {
  try {
    const ttl = (JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString('utf8')) as { ttl?: unknown }).ttl;
    return typeof ttl === 'number' ? ttl : null;
  } catch {
    return null;
  }
}

function unknown(now: Date, reason: string): CurrentStatus {
  return { status: 'UNKNOWN', changedAt: null, statusCheckedAt: now.toISOString(), list: null, reason };
}
