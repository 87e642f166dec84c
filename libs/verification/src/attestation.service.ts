import { Injectable } from '@nestjs/common';
import { AuditLog } from '@tongban/audit';
import { SignedTokenVerifier, TokenProblem } from '@tongban/federation';
import { KeyStore } from '@tongban/keys';
import { ATTESTATION_TYP, AttestationClaims } from './attestation-claims';

/** Result of checking an attestation offline. */
export interface AttestationCheck {
  valid: boolean;
  reason?: TokenProblem;
  claims: AttestationClaims | null;
  kid?: string;
}

/** Signs attestations as an issuer and checks anyone's attestations offline against the trust store. */
@Injectable()
export class AttestationService {
  constructor(
    private readonly keys: KeyStore,
    private readonly verifier: SignedTokenVerifier,
    private readonly audit: AuditLog,
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

  /** `check` on behalf of a local caller, recorded in the audit trail. */
  async checkFor(attestation: string, actor: string): Promise<AttestationCheck> {
    const result = await this.check(attestation);
    const subject = result.claims && typeof result.claims.iss === 'string' ? `${result.claims.iss}/${String(result.claims.jti).slice(0, 64)}` : 'unparseable';
    this.audit.record({ event: 'attestation.checked', actor, subject, outcome: result.valid ? 'OK' : 'REFUSED', reason: result.reason });
    return result;
  }
}
