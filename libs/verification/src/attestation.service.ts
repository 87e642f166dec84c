import { Injectable, Optional } from '@nestjs/common';
import { AuditLog } from '@tongban/audit';
import { SignedTokenVerifier, TokenProblem } from '@tongban/federation';
import { KeyStore } from '@tongban/keys';
import { ATTESTATION_TYP, AttestationClaims } from './attestation-claims';
import { AttestationStatusCheck, CurrentStatus } from './status-check.service';

/** Result of checking an attestation offline. */
export interface AttestationCheck {
  valid: boolean;
  reason?: TokenProblem;
  claims: AttestationClaims | null;
  kid?: string;
  /** The licence's status now, from the issuer's status list (only for a valid attestation with a statusRef). */
  currentStatus?: CurrentStatus;
}

/** Signs attestations as an issuer and checks anyone's attestations offline against the trust store. */
@Injectable()
export class AttestationService {
  constructor(
    private readonly keys: KeyStore,
    private readonly verifier: SignedTokenVerifier,
    private readonly audit: AuditLog,
    @Optional() private readonly statusCheck?: AttestationStatusCheck,
  ) {}

  /** Signs claims with our active key. */
  issue(claims: AttestationClaims): string {
    return this.keys.signJws(ATTESTATION_TYP, claims);
  }

  /**
   * Checks signature and key status without calling any peer. Keys that were rotated out
   * (RETIRED) still verify old attestations; REVOKED keys do not.
   */
  async check(attestation: string): Promise<AttestationCheck> {
    return this.verifier.check<AttestationClaims>(attestation, ATTESTATION_TYP);
  }

  /**
   * `check` on behalf of a local caller, recorded in the audit trail; a valid attestation with a
   * `statusRef` also gets `currentStatus` from the issuer's status list (fetched if the cached one
   * is older than its ttl; from the cache, marked stale, when the issuer is down).
   */
  async checkFor(attestation: string, actor: string): Promise<AttestationCheck> {
    const result: AttestationCheck = await this.check(attestation);
    if (result.valid && result.claims && this.statusCheck) {
      const current = await this.statusCheck.currentStatus(result.claims.iss, result.claims.statusRef, { iat: result.claims.iat, status: result.claims.status });
      if (current) result.currentStatus = current;
    }
    const subject = result.claims && typeof result.claims.iss === 'string' ? `${result.claims.iss}/${String(result.claims.jti).slice(0, 64)}` : 'unparseable';
    this.audit.record({ event: 'attestation.checked', actor, subject, outcome: result.valid ? 'OK' : 'REFUSED', reason: result.reason });
    return result;
  }
}
