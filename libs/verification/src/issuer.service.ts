import { Inject, Injectable, Optional } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { Clock, SELF_CODE, beijingDate } from '@tongban/common';
import { AuditLog } from '@tongban/audit';
import { checkCitizenId, checkCreditCode, checkLicenceId, parseLicenceId } from '@tongban/identifiers';
import { LicenceLookup, LicenceRecord, LicenceSourceUnavailableError, LicenceTypeCatalogue, StatusListIndex } from '@tongban/licences';
import { LicenceSubscriptions, NOTIFY_REF, toTimestamp } from '@tongban/notices';
import { DisclosedLicence, LicenceQuery, LicenceResult, LicenceStatus, MatchResult } from '@tongban/proto';
import { TrustStore } from '@tongban/trust';
import { AttestationClaims, MatchValue } from './attestation-claims';
import { AttestationService } from './attestation.service';
import { MAX_BATCH } from './verification-request.schema';

const STATUS_TO_PROTO: Record<AttestationClaims['status'], LicenceStatus> = {
  VALID: LicenceStatus.LICENCE_STATUS_VALID,
  EXPIRED: LicenceStatus.LICENCE_STATUS_EXPIRED,
  SUSPENDED: LicenceStatus.LICENCE_STATUS_SUSPENDED,
  REVOKED: LicenceStatus.LICENCE_STATUS_REVOKED,
  NOT_FOUND: LicenceStatus.LICENCE_STATUS_NOT_FOUND,
  NOT_YET_VALID: LicenceStatus.LICENCE_STATUS_NOT_YET_VALID,
};
const MATCH_TO_PROTO: Record<MatchValue, MatchResult> = {
  MATCH: MatchResult.MATCH_RESULT_MATCH,
  MISMATCH: MatchResult.MATCH_RESULT_MISMATCH,
  NOT_CHECKED: MatchResult.MATCH_RESULT_NOT_CHECKED,
};

/** Why a query from a peer cannot be answered at all (the caller broke the protocol). */
export class MalformedQueryError extends Error {}

/**
 * The issuer side of verification: looks licences up, compares the holder, applies disclosure
 * policy and signs an attestation per query. Holder ID numbers are compared, never returned.
 */
@Injectable()
export class IssuerService {
  constructor(
    private readonly lookup: LicenceLookup,
    private readonly catalogue: LicenceTypeCatalogue,
    private readonly attestations: AttestationService,
    private readonly trust: TrustStore,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    @Inject(SELF_CODE) private readonly self: string,
    @Optional() private readonly subscriptions?: LicenceSubscriptions,
    @Optional() private readonly statusIndex?: StatusListIndex,
  ) {}

  /** Throws MalformedQueryError when a query breaks the protocol's rules. */
  validate(queries: LicenceQuery[]): void {
    if (queries.length < 1 || queries.length > MAX_BATCH) throw new MalformedQueryError(`between 1 and ${MAX_BATCH} queries per call`);
    queries.forEach((q, i) => {
      const bad = (m: string) => new MalformedQueryError(`queries[${i}]: ${m}`);
      // Proto3 strings must be valid UTF-8; the decoder replaces invalid bytes with U+FFFD, so a
      // replacement character means the peer sent something other than what we would answer to.
      if ([q.queryId, q.licenceType, q.licenceNumber, q.licenceId, q.purpose, q.holder?.name ?? '', q.holder?.idNumber ?? '', q.holder?.creditCode ?? ''].some((v) => v.includes('\uFFFD'))) {
        throw bad('strings must be valid UTF-8');
      }
      if (!q.queryId || q.queryId.length > 64) throw bad('query_id must be 1-64 characters');
      if (!/^[0-9A-HJ-NP-RTUWXY]{18}\d{3}$/.test(q.licenceType)) throw bad('licence_type must be a GB/T 36904 type code');
      if (!q.licenceId && !q.licenceNumber) throw bad('licence_id or licence_number is required');
      if (q.licenceId && !checkLicenceId(q.licenceId).ok) throw bad('licence_id fails GB/T 36904');
      if (q.licenceNumber.length > 64) throw bad('licence_number longer than 64');
      const purposeLength = Array.from(q.purpose.trim()).length;
      if (purposeLength < 1 || purposeLength > 200) throw bad('purpose must be 1-200 characters');
      if (q.holder?.idNumber && !checkCitizenId(q.holder.idNumber, this.clock.now()).ok) throw bad('holder.id_number fails GB 11643');
      if (q.holder?.creditCode && !checkCreditCode(q.holder.creditCode).ok) throw bad('holder.credit_code fails GB 32100');
      if ((q.holder?.name ?? '').length > 100) throw bad('holder.name longer than 100');
      if (q.holder?.idNumber && q.holder?.creditCode) throw bad('give holder.id_number or holder.credit_code, not both');
      if (q.notifyRef && !NOTIFY_REF.test(q.notifyRef)) throw bad('notify_ref must be 1-64 of [A-Za-z0-9_-]');
    });
  }

  /** Whether `requester` may ask about every licence type in `queries` (self may ask anything). */
  refusedTypes(requester: string, queries: LicenceQuery[]): Set<string> {
    if (requester === this.self) return new Set();
    const peer = this.trust.peer(requester);
    return new Set(queries.map((q) => q.licenceType).filter((t) => !peer || !this.trust.allowsLicenceType(peer, t)));
  }

  /** Answers validated queries from `requester`, one result per query in order. */
  async answer(requester: string, queries: LicenceQuery[], refused: Set<string>): Promise<LicenceResult[]> {
    return Promise.all(queries.map(async (q) => (refused.has(q.licenceType) ? this.refuse(requester, q) : this.answerOne(requester, q))));
  }

  private refuse(requester: string, q: LicenceQuery, code: 'LICENCE_TYPE_NOT_ALLOWED' | 'ISSUER_SOURCE_UNAVAILABLE' = 'LICENCE_TYPE_NOT_ALLOWED', source?: string): LicenceResult {
    if (code === 'LICENCE_TYPE_NOT_ALLOWED') {
      this.audit.record({ event: 'verification.answered', actor: requester, subject: q.licenceType, outcome: 'REFUSED', reason: code, details: { queryId: q.queryId } });
    } else {
      this.audit.record({ event: 'verification.answered', actor: requester, subject: q.licenceType, outcome: 'FAILED', reason: code, details: { queryId: q.queryId, source: source ?? '' } });
    }
    return {
      queryId: q.queryId,
      status: LicenceStatus.LICENCE_STATUS_UNSPECIFIED,
      nameMatch: MatchResult.MATCH_RESULT_UNSPECIFIED,
      codeMatch: MatchResult.MATCH_RESULT_UNSPECIFIED,
      licence: undefined,
      issuer: { province: this.self, organName: '', organCode: '' },
      checkedAt: undefined,
      attestation: '',
      refusalCode: code,
      subscription: undefined,
    };
  }

  private async answerOne(requester: string, q: LicenceQuery): Promise<LicenceResult> {
    let record: LicenceRecord | null;
    try {
      record = await this.find(q);
    } catch (e) {
      // The province's library cannot answer now: say so, never guess (docs/protocol.md §7.4).
      if (e instanceof LicenceSourceUnavailableError) return this.refuse(requester, q, 'ISSUER_SOURCE_UNAVAILABLE', e.reason);
      throw e;
    }
    const now = this.clock.now();
    const status = record ? statusOf(record, now) : 'NOT_FOUND';
    const nameMatch: MatchValue = record && q.holder?.name ? (normaliseName(q.holder.name) === normaliseName(record.holderName) ? 'MATCH' : 'MISMATCH') : 'NOT_CHECKED';
    const claimedCode = q.holder?.idNumber ? { type: '111', value: q.holder.idNumber.toUpperCase() } : q.holder?.creditCode ? { type: '001', value: q.holder.creditCode } : undefined;
    const codeMatch: MatchValue = record && claimedCode ? (claimedCode.type === record.holderCodeType && claimedCode.value === record.holderCode ? 'MATCH' : 'MISMATCH') : 'NOT_CHECKED';
    const checkedAt = now.toISOString();
    const claims: AttestationClaims = {
      iss: this.self,
      aud: requester,
      jti: randomUUID(),
      iat: Math.floor(now.getTime() / 1000),
      rid: q.queryId,
      licenceType: q.licenceType,
      licenceNumber: record?.number ?? (q.licenceNumber || null),
      licenceId: record?.licenceId ?? (q.licenceId || null),
      status,
      holderMatch: { name: nameMatch, code: codeMatch },
      purposeHash: createHash('sha256').update(q.purpose.trim(), 'utf8').digest('base64url'),
      organCode: record?.issuerOrganCode ?? null,
      checkedAt,
      // Found licences get their place in the type's status list, for later status checks.
      ...(record && this.statusIndex ? { statusRef: await this.statusIndex.refFor(record.licenceId, record.typeCode, record.status) } : {}),
    };
    this.audit.record({ event: 'verification.answered', actor: requester, subject: q.licenceType, outcome: 'OK', reason: status, details: { queryId: q.queryId, attestation: claims.jti } });
    return {
      queryId: q.queryId,
      status: STATUS_TO_PROTO[status],
      nameMatch: MATCH_TO_PROTO[nameMatch],
      codeMatch: MATCH_TO_PROTO[codeMatch],
      licence: record ? this.disclose(record) : undefined,
      issuer: { province: this.self, organName: record?.issuerOrganName ?? '', organCode: record?.issuerOrganCode ?? '' },
      checkedAt: { seconds: String(Math.floor(now.getTime() / 1000)), nanos: (now.getTime() % 1000) * 1e6 },
      attestation: this.attestations.issue(claims),
      refusalCode: '',
      subscription: q.notifyRef ? await this.subscribe(requester, q.notifyRef, record) : undefined,
    };
  }

  /** Records the subscription a query asked for (docs/protocol-notices.md §2). */
  private async subscribe(requester: string, ref: string, record: LicenceRecord | null): Promise<NonNullable<LicenceResult['subscription']>> {
    if (!record) return { outcome: 'LICENCE_NOT_FOUND', expiresAt: undefined };
    if (!this.subscriptions) return { outcome: 'NOTICES_NOT_ALLOWED', expiresAt: undefined };
    const r = await this.subscriptions.subscribe(requester, ref, record);
    return { outcome: r.outcome, expiresAt: r.expiresAt ? toTimestamp(r.expiresAt) : undefined };
  }

  private async find(q: LicenceQuery): Promise<LicenceRecord | null> {
    const record = q.licenceId ? await this.lookup.findById(q.licenceId) : await this.lookup.findByNumber(q.licenceType, q.licenceNumber);
    if (!record) return null;
    // Both identifiers given: they must name the same licence, and the type must agree.
    if (record.typeCode !== q.licenceType) return null;
    if (q.licenceId && q.licenceNumber && record.number !== q.licenceNumber) return null;
    if (q.licenceId && parseLicenceId(q.licenceId).typeCode !== q.licenceType) return null;
    return record;
  }

  private disclose(r: LicenceRecord): DisclosedLicence {
    const allowed = this.catalogue.disclosed(r.typeCode);
    const all: Record<string, string | undefined> = {
      licenceType: r.typeCode,
      licenceName: r.name,
      licenceNumber: r.number,
      licenceId: r.licenceId,
      holderName: r.holderName,
      issueDate: r.issueDate,
      validFrom: r.validFrom,
      validUntil: r.validUntil ?? undefined,
      jurisdictionCode: r.jurisdictionCode,
    };
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(all)) if (v !== undefined && allowed.has(k as never)) out[k] = v;
    return out;
  }
}

/**
 * A licence's status on a given instant, judged on the Beijing calendar date: valid from the start
 * of `validFrom` through the end of `validUntil`. A record's own SUSPENDED / REVOKED wins.
 */
export function statusOf(r: LicenceRecord, now: Date): AttestationClaims['status'] {
  if (r.status !== 'VALID') return r.status;
  const today = beijingDate(now);
  if (r.validFrom > today) return 'NOT_YET_VALID';
  return r.validUntil && r.validUntil < today ? 'EXPIRED' : 'VALID';
}

function normaliseName(name: string): string {
  return name.normalize('NFKC').replace(/[\s·•・]/g, '');
}
