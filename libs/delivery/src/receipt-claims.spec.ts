import { createHash } from 'node:crypto';
import { digest } from '@tongban/federation';
import { receiptClaims, receiptDigestMatches } from './receipt-claims';

// A receipt's `dig` follows the receiver's envelope digest (docs/protocol-cases.md §1.4, protocol.md §3.5):
// SHA-256 with no `dal`, or SM3 with `dal: "SM3"`; the sender checks it against the body it sent.
describe('receipt digests (dal)', () => {
  const body = Buffer.from('a delivered body');
  const m = { sender: '440000', messageId: 'm-1', stream: 's-1', seq: 1, type: 'tongban.cases.v1.CaseEventNote', body };

  it('SHA-256 by default, with no dal claim; SM3 when asked, with dal after dig', () => {
    const sha = receiptClaims('110000', m, 'ACCEPTED', undefined, 1);
    expect(sha.dig).toBe(digest(body));
    expect(sha).not.toHaveProperty('dal');
    const sm3 = receiptClaims('110000', m, 'ACCEPTED', undefined, 1, 'SM3');
    expect(sm3.dig).toBe(createHash('sm3').update(body).digest('base64url'));
    expect(Object.keys(sm3)).toEqual(['iss', 'aud', 'mid', 'stm', 'seq', 'mty', 'dig', 'dal', 'sta', 'iat']);
  });

  it('the sender accepts either digest of the body it sent, and nothing else', () => {
    expect(receiptDigestMatches(receiptClaims('110000', m, 'ACCEPTED', undefined, 1), body)).toBe(true);
    expect(receiptDigestMatches(receiptClaims('110000', m, 'ACCEPTED', undefined, 1, 'SM3'), body)).toBe(true);
    const other = Buffer.from('another body');
    expect(receiptDigestMatches(receiptClaims('110000', m, 'ACCEPTED', undefined, 1, 'SM3'), other)).toBe(false);
    expect(receiptDigestMatches({ dig: createHash('sm3').update(body).digest('base64url') }, body)).toBe(false); // SM3 dig without dal
    expect(receiptDigestMatches({ dig: digest(body), dal: 'SHA-256' as never }, body)).toBe(false); // only absent or SM3
    expect(receiptDigestMatches({ dig: createHash('md5').update(body).digest('base64url'), dal: 'MD5' as never }, body)).toBe(false);
  });
});
