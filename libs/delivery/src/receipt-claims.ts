import { digest, EnvelopeDigestAlg } from '@tongban/federation';
import { ReceiptClaims } from './delivery.options';

/** The fields of a delivered message a receipt speaks about. */
export interface ReceiptSubject {
  sender: string;
  messageId: string;
  stream: string;
  seq: number;
  type: string;
  body: Uint8Array;
}

/**
 * The claims of the receipt `self` signs for message `m`, in the order they are serialised
 * (docs/protocol-cases.md §1.4; the worked example in docs/protocol.md §10.9 is computed with this).
 */
export function receiptClaims(self: string, m: ReceiptSubject, status: ReceiptClaims['sta'], reason: string | undefined, iat: number, dal: EnvelopeDigestAlg = 'SHA-256'): ReceiptClaims {
  return {
    iss: self,
    aud: m.sender,
    mid: m.messageId,
    stm: m.stream,
    seq: m.seq,
    mty: m.type,
    dig: digest(m.body, dal),
    ...(dal === 'SHA-256' ? {} : { dal }),
    sta: status,
    ...(reason ? { rsn: reason.slice(0, 200) } : {}),
    iat,
  };
}

/** Whether a receipt's `dig` (with its `dal`: absent = SHA-256, or SM3) is the digest of `body`. */
export function receiptDigestMatches(c: Pick<ReceiptClaims, 'dig' | 'dal'>, body: Uint8Array): boolean {
  if (c.dal !== undefined && c.dal !== 'SM3') return false;
  return c.dig === digest(body, c.dal ?? 'SHA-256');
}
