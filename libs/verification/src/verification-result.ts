import type { NotifyResult } from '@tongban/notices';
import { AttestationClaims, MatchValue } from './attestation-claims';

/** What `POST /v1/verifications` returns (and each successful batch item). */
export interface VerificationResult {
  requestId: string;
  status: AttestationClaims['status'];
  holderMatch: { name: MatchValue; code: MatchValue };
  licence: Record<string, string>;
  issuer: { province: string; organName: string | null; organCode: string | null };
  checkedAt: string;
  attestation: string;
  /** Only when the request asked for notices (`notify: true`, or a standing subscription of the type). */
  notify?: NotifyResult;
}

/** One entry of a batch response: a result, or an error with a machine-readable code. */
export type BatchItemResult = VerificationResult | { requestId: string; error: { code: string; message: string; field?: string; rule?: string } };
