import { DomainException } from '@tongban/common';
import { classifyDeliveryFailure, ReceiptInvalidError } from './delivery-failure';

const rejected = (reason?: string) => new DomainException('ISSUER_REJECTED', `the gateway of 130000 rejected the request (${reason})`, { peer: '130000', reason });

describe('classifyDeliveryFailure', () => {
  it('counts what the peer answered about the message itself (poison): malformed payload, INTERNAL, unimplemented, too large', () => {
    for (const reason of ['MALFORMED_PAYLOAD', 'INTERNAL', 'UNIMPLEMENTED', 'PAYLOAD_TOO_LARGE', 'TYPE_MISMATCH', 'DIGEST_MISMATCH', 'INVALID_ARGUMENT', 'UNKNOWN', 'DATA_LOSS']) {
      expect(classifyDeliveryFailure(rejected(reason))).toEqual({ transient: false, code: reason });
    }
  });

  it('does not count an unreachable, busy or suspended peer, nor a wait for the predecessor or a trust setting', () => {
    expect(classifyDeliveryFailure(new DomainException('ISSUER_UNREACHABLE', 'the gateway of 130000 did not answer in time', { peer: '130000' }))).toEqual({
      transient: true,
      code: 'ISSUER_UNREACHABLE',
    });
    expect(classifyDeliveryFailure(new DomainException('ISSUER_RATE_LIMITED', 'x', { reason: 'RATE_LIMITED' })).transient).toBe(true);
    expect(classifyDeliveryFailure(new DomainException('ISSUER_REFUSED', 'x', { reason: 'PEER_SUSPENDED' })).transient).toBe(true);
    expect(classifyDeliveryFailure(new DomainException('FORBIDDEN', 'peer 130000 is suspended in our trust store', { reason: 'PEER_SUSPENDED' })).transient).toBe(true);
    expect(classifyDeliveryFailure(new DomainException('ISSUER_UNKNOWN', 'no gateway')).transient).toBe(true);
    for (const reason of ['OUT_OF_ORDER', 'UNKNOWN_KEY', 'KEY_RETIRED', 'TOO_MANY_REFUSALS', 'UNKNOWN_SENDER', 'BAD_SIGNATURE', 'EXPIRED', 'NOT_YET_VALID', 'WRONG_RECIPIENT', 'UNAVAILABLE']) {
      expect(classifyDeliveryFailure(rejected(reason))).toEqual({ transient: true, code: reason });
    }
  });

  it('a response or receipt that does not check is the peer answering wrongly: counted', () => {
    expect(classifyDeliveryFailure(new ReceiptInvalidError('receipt from 130000 does not check (claims differ)'))).toEqual({ transient: false, code: 'RECEIPT_INVALID' });
    expect(classifyDeliveryFailure(new DomainException('ISSUER_RESPONSE_INVALID', 'x', { reason: 'DIGEST_MISMATCH' }))).toEqual({ transient: false, code: 'RESPONSE_INVALID' });
    // …unless its key is not known yet (a rotation still travelling): that waits.
    expect(classifyDeliveryFailure(new DomainException('ISSUER_RESPONSE_INVALID', 'x', { reason: 'UNKNOWN_KEY' })).transient).toBe(true);
  });

  it('keeps only known codes as the kind, so a peer cannot invent metric labels', () => {
    expect(classifyDeliveryFailure(rejected('X\u0000{evil="1"}'))).toEqual({ transient: false, code: 'OTHER' });
    expect(classifyDeliveryFailure(rejected(undefined))).toEqual({ transient: false, code: 'OTHER' });
  });

  it('a local error (not the peer, not the message) is transient: only the dead-letter age ends it', () => {
    expect(classifyDeliveryFailure(new Error('SQLITE_BUSY'))).toEqual({ transient: true, code: 'LOCAL_ERROR' });
    // Our own database lost (PostgreSQL) or busy (SQLite writer) during the attempt: the typed 503 error.
    for (const reason of ['DATABASE_UNAVAILABLE', 'DATABASE_COMMIT_UNKNOWN', 'DATABASE_BUSY']) {
      expect(classifyDeliveryFailure(new DomainException('UNAVAILABLE', 'the database connection was lost', { reason }))).toEqual({ transient: true, code: 'UNAVAILABLE' });
    }
  });
});
