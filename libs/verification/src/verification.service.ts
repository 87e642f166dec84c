import { Inject, Injectable, Optional } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DomainException, ParticipantDirectory, SELF_CODE, ValidationException, findUnstorableText, parseOrThrow, timestampDate } from '@tongban/common';
import { AuditLog } from '@tongban/audit';
import { Metrics } from '@tongban/observability';
import { PeerClient } from '@tongban/federation';
import { NoticeSubscriptions, SubscriptionOrigin } from '@tongban/notices';
import { parseLicenceId, provinceOfCreditCode } from '@tongban/identifiers';
import { LicenceQuery, LicenceResult, LicenceStatus, MatchResult, VerifyLicencesPayload, VerifyLicencesResultPayload, licenceStatusToJSON } from '@tongban/proto';
import { AttestationService } from './attestation.service';
import { IssuerCalls } from './issuer-calls';
import { IssuerService } from './issuer.service';
import { BatchItemResult, VerificationResult } from './verification-result';
import { VerificationRequest, batchRequestSchema, verificationRequestSchema } from './verification-request.schema';

const MATCH_FROM_PROTO: Partial<Record<MatchResult, 'MATCH' | 'MISMATCH' | 'NOT_CHECKED'>> = {
  [MatchResult.MATCH_RESULT_MATCH]: 'MATCH',
  [MatchResult.MATCH_RESULT_MISMATCH]: 'MISMATCH',
  [MatchResult.MATCH_RESULT_NOT_CHECKED]: 'NOT_CHECKED',
};

/** Options of the asking side (gateway config). */
export interface VerificationOptions {
  /** TONGBAN_VERIFY_COALESCE: single verifications to one issuer in one turn share one signed call (IssuerCalls). Default true. */
  coalesce?: boolean;
}
export const VERIFICATION_OPTIONS = Symbol('VERIFICATION_OPTIONS');

interface PreparedQuery {
  issuer: string;
  query: LicenceQuery;
  /** The subscription asked for (query.notify_ref), if any. */
  notify?: { ref: string; origin: SubscriptionOrigin };
}

/**
 * The asking side of verification: validates a local request, finds the issuing province,
 * asks its gateway (or answers itself) and returns the issuer's signed result.
 */
@Injectable()
export class VerificationService {
  /** Calls shared by the single verifications of one turn, or none (each request its own call). */
  private readonly calls: IssuerCalls | undefined;

  constructor(
    private readonly peers: PeerClient,
    private readonly issuer: IssuerService,
    private readonly attestations: AttestationService,
    private readonly participants: ParticipantDirectory,
    private readonly audit: AuditLog,
    @Inject(SELF_CODE) private readonly self: string,
    @Optional() private readonly metrics?: Metrics,
    @Optional() private readonly notices?: NoticeSubscriptions,
    @Optional() @Inject(VERIFICATION_OPTIONS) options: VerificationOptions = {},
  ) {
    if (options.coalesce ?? true) this.calls = new IssuerCalls((issuer, queries, id) => this.ask(issuer, queries, id));
  }

  /** One verification; throws DomainException (400/403/502/503) on failure. */
  async verify(body: unknown, actor: string, correlationId?: string): Promise<VerificationResult> {
    const req = parseOrThrow(verificationRequestSchema, body);
    const prepared = await this.withNotify(this.prepare(req, ''), req, actor);
    const result =
      this.calls && prepared.issuer !== this.self ? await this.calls.ask(prepared.issuer, prepared.query, correlationId) : (await this.ask(prepared.issuer, [prepared.query], correlationId))[0];
    return this.finish(prepared, result, actor, correlationId);
  }

  /** Up to 100 verifications: one signed call per issuer, concurrently; results in request order. */
  async verifyBatch(body: unknown, actor: string, correlationId?: string): Promise<{ results: BatchItemResult[] }> {
    const { items } = parseOrThrow(batchRequestSchema, body);
    const requests = items.map((item, i) => parseOrThrow(verificationRequestSchema, item, `items[${i}]`));
    const prepared = await Promise.all(requests.map((req, i) => this.withNotify(this.prepare(req, `items[${i}].`), req, actor)));
    const groups = new Map<string, number[]>();
    prepared.forEach((p, i) => groups.set(p.issuer, [...(groups.get(p.issuer) ?? []), i]));
    const results = new Array<BatchItemResult>(prepared.length);
    await Promise.all(
      [...groups].map(async ([issuer, indexes]) => {
        try {
          const answers = await this.ask(
            issuer,
            indexes.map((i) => prepared[i].query),
            correlationId,
          );
          for (const [k, i] of indexes.entries()) {
            try {
              results[i] = await this.finish(prepared[i], answers[k], actor, correlationId);
            } catch (e) {
              results[i] = itemError(prepared[i], e);
            }
          }
        } catch (e) {
          for (const i of indexes) results[i] = itemError(prepared[i], e);
        }
      }),
    );
    return { results };
  }

  private prepare(req: VerificationRequest, fieldPrefix: string): PreparedQuery {
    let issuer = req.issuerProvince;
    if (req.licenceId) {
      const parts = parseLicenceId(req.licenceId);
      if (parts.typeCode !== req.licenceType) {
        throw new ValidationException(`${fieldPrefix}licenceType`, 'LICENCE_ID_CONSISTENCY', `${fieldPrefix}licenceType: must equal the type code inside licenceId`);
      }
      const fromId = provinceOfCreditCode(parts.issuerCode);
      if (issuer && issuer !== fromId) {
        throw new ValidationException(`${fieldPrefix}issuerProvince`, 'ISSUER_CONSISTENCY', `${fieldPrefix}issuerProvince: licenceId was issued in ${fromId}`);
      }
      issuer = fromId;
    }
    if (!issuer) throw new ValidationException(`${fieldPrefix}issuerProvince`, 'REQUIRED', `${fieldPrefix}issuerProvince: required when licenceId is not given`);
    if (!this.participants.has(issuer)) {
      throw new ValidationException(
        `${fieldPrefix}${req.issuerProvince ? 'issuerProvince' : 'licenceId'}`,
        'UNKNOWN_PARTICIPANT',
        `${fieldPrefix}issuerProvince: ${issuer} is not a participant of the federation`,
      );
    }
    return {
      issuer,
      query: {
        queryId: randomUUID(),
        licenceType: req.licenceType,
        licenceNumber: req.licenceNumber ?? '',
        licenceId: req.licenceId ?? '',
        holder: { name: req.holder.name ?? '', idNumber: req.holder.idNumber ?? '', creditCode: req.holder.creditCode ?? '' },
        purpose: req.purpose,
        notifyRef: '',
      },
    };
  }

  /** Adds the notify_ref when the request (or a standing subscription of its client) asks for notices. */
  private async withNotify(p: PreparedQuery, req: VerificationRequest, actor: string): Promise<PreparedQuery> {
    const notify = await this.notices?.refFor(actor, req.licenceType, req.licenceId, req.notify);
    if (!notify) return p;
    return { ...p, notify, query: { ...p.query, notifyRef: notify.ref } };
  }

  private async ask(issuer: string, queries: LicenceQuery[], correlationId: string | undefined): Promise<LicenceResult[]> {
    if (issuer === this.self) return this.issuer.answer(this.self, queries, new Set());
    const bytes = await this.peers.call(issuer, 'VerifyLicences', VerifyLicencesPayload.encode({ queries }).finish(), correlationId);
    let results: LicenceResult[];
    try {
      results = VerifyLicencesResultPayload.decode(bytes).results;
    } catch {
      throw new DomainException('ISSUER_RESPONSE_INVALID', `the response of ${issuer} is not a valid VerifyLicencesResultPayload`, { peer: issuer });
    }
    const text = findUnstorableText(results);
    if (text) throw new DomainException('ISSUER_RESPONSE_INVALID', `the response of ${issuer} holds text no backend can store (${text.message})`, { peer: issuer, reason: 'STORABLE_TEXT' });
    if (results.length !== queries.length || results.some((r, i) => r.queryId !== queries[i].queryId)) {
      throw new DomainException('ISSUER_RESPONSE_INVALID', `the response of ${issuer} does not answer the queries sent`, { peer: issuer });
    }
    return results;
  }

  /** Checks the issuer's attestation against its answer, audits, and shapes the local response. */
  private async finish(p: PreparedQuery, r: LicenceResult, actor: string, correlationId: string | undefined): Promise<VerificationResult> {
    if (r.refusalCode) {
      this.audit.record({ event: 'verification.requested', actor, subject: p.issuer, outcome: 'REFUSED', reason: r.refusalCode, details: { requestId: p.query.queryId } });
      this.metrics?.verification('REFUSED');
      if (r.refusalCode === 'ISSUER_SOURCE_UNAVAILABLE') {
        throw new DomainException('ISSUER_SOURCE_UNAVAILABLE', `the gateway of ${p.issuer} cannot reach its licence source now; try again later`, { peer: p.issuer, reason: r.refusalCode });
      }
      throw new DomainException('ISSUER_REFUSED', `the gateway of ${p.issuer} refused this query (${r.refusalCode})`, { peer: p.issuer, reason: r.refusalCode });
    }
    const status = licenceStatusToJSON(r.status).replace('LICENCE_STATUS_', '') as VerificationResult['status'];
    // Checked although the envelope around it verified: the envelope proves the issuer sent these
    // bytes, not that the attestation inside verifies, and we never hand out one that does not
    // (protocol.md §7.6). It is one signature verify per result (docs/performance.md, the hot path).
    const check = await this.attestations.check(r.attestation);
    const c = check.claims;
    if (
      !check.valid ||
      !c ||
      c.iss !== p.issuer ||
      c.aud !== this.self ||
      c.rid !== p.query.queryId ||
      c.status !== status ||
      c.licenceType !== p.query.licenceType ||
      r.status === LicenceStatus.LICENCE_STATUS_UNSPECIFIED
    ) {
      throw new DomainException('ISSUER_RESPONSE_INVALID', `the attestation from ${p.issuer} does not check (${check.reason ?? 'claims differ from the answer'})`, { peer: p.issuer });
    }
    this.audit.record({ event: 'verification.requested', actor, subject: p.issuer, outcome: 'OK', reason: status, details: { requestId: p.query.queryId, attestation: c.jti } });
    this.metrics?.verification(status);
    const licence: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.licence ?? {})) if (typeof v === 'string') licence[k] = v;
    const notify =
      p.notify && this.notices
        ? await this.notices.recorded(
            actor,
            p.issuer,
            p.notify,
            { licenceId: c.licenceId, licenceType: c.licenceType },
            r.subscription && { outcome: r.subscription.outcome, expiresAt: fromTimestamp(r.subscription.expiresAt) },
            correlationId,
          )
        : undefined;
    return {
      requestId: p.query.queryId,
      status,
      holderMatch: { name: MATCH_FROM_PROTO[r.nameMatch] ?? 'NOT_CHECKED', code: MATCH_FROM_PROTO[r.codeMatch] ?? 'NOT_CHECKED' },
      licence,
      issuer: { province: p.issuer, organName: r.issuer?.organName || null, organCode: r.issuer?.organCode || null },
      checkedAt: c.checkedAt,
      attestation: r.attestation,
      ...(notify ? { notify } : {}),
    };
  }
}

/** The issuer's time, when it gave one after 1970 within a Timestamp's range (else none). */
function fromTimestamp(t: { seconds: string; nanos: number } | undefined): Date | null {
  const d = t && timestampDate(t);
  return d && d.getTime() > 0 ? d : null;
}

function itemError(p: PreparedQuery, e: unknown): BatchItemResult {
  if (e instanceof DomainException) return { requestId: p.query.queryId, error: { code: e.code, message: e.message } };
  return { requestId: p.query.queryId, error: { code: 'INTERNAL', message: 'internal error' } };
}
