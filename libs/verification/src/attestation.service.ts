import { Inject, Injectable } from '@nestjs/common';
import { KeyObject } from 'node:crypto';
import { compactVerify, decodeJwt, decodeProtectedHeader } from 'jose';
import { SELF_CODE } from '@tongban/common';
import { FEDERATION_OPTIONS, FederationOptions } from '@tongban/federation';
import { KeyStore } from '@tongban/keys';
import { TrustStore } from '@tongban/trust';
import { ATTESTATION_TYP, AttestationClaims } from './attestation-claims';

/** Result of checking an attestation offline. */
export interface AttestationCheck {
  valid: boolean;
  reason?: 'MALFORMED' | 'WRONG_TYPE' | 'ALG_NOT_ALLOWED' | 'UNKNOWN_ISSUER' | 'UNKNOWN_KEY' | 'KEY_REVOKED' | 'KEY_ALG_MISMATCH' | 'BAD_SIGNATURE';
  claims: AttestationClaims | null;
  kid?: string;
}

const KID = /^[A-Za-z0-9_-]{1,64}$/;

/** Signs attestations as an issuer and checks anyone's attestations offline against the trust store. */
@Injectable()
export class AttestationService {
  constructor(
    private readonly keys: KeyStore,
    private readonly trust: TrustStore,
    @Inject(FEDERATION_OPTIONS) private readonly options: FederationOptions,
    @Inject(SELF_CODE) private readonly self: string,
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
    let header: ReturnType<typeof decodeProtectedHeader>;
    let claims: AttestationClaims;
    try {
      if (typeof attestation !== 'string' || attestation.length > 8192 || attestation.split('.').length !== 3) throw new Error('shape');
      header = decodeProtectedHeader(attestation);
      claims = decodeJwt(attestation) as unknown as AttestationClaims;
    } catch {
      return { valid: false, reason: 'MALFORMED', claims: null };
    }
    const fail = (reason: AttestationCheck['reason']): AttestationCheck => ({ valid: false, reason, claims, kid: header.kid });
    if (header.typ !== ATTESTATION_TYP) return fail('WRONG_TYPE');
    if (typeof header.alg !== 'string' || !(this.options.allowedAlgorithms as string[]).includes(header.alg)) return fail('ALG_NOT_ALLOWED');
    if (typeof header.kid !== 'string' || !KID.test(header.kid) || typeof claims.iss !== 'string') return fail('MALFORMED');
    const key = this.resolveKey(claims.iss, header.kid);
    if (key === 'UNKNOWN_ISSUER' || key === 'UNKNOWN_KEY') return fail(key);
    if (key.status === 'REVOKED') return fail('KEY_REVOKED');
    if (key.alg !== header.alg) return fail('KEY_ALG_MISMATCH');
    try {
      await compactVerify(attestation, key.key, { algorithms: [key.alg] });
    } catch {
      return fail('BAD_SIGNATURE');
    }
    return { valid: true, claims, kid: header.kid };
  }

  private resolveKey(iss: string, kid: string): { key: KeyObject; alg: string; status: string } | 'UNKNOWN_ISSUER' | 'UNKNOWN_KEY' {
    if (iss === this.self) return this.keys.publicKey(kid) ?? 'UNKNOWN_KEY';
    const peer = this.trust.peer(iss);
    if (!peer) return 'UNKNOWN_ISSUER';
    return peer.keys.get(kid) ?? 'UNKNOWN_KEY';
  }
}
