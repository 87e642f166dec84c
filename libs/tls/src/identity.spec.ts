import fc from 'fast-check';
import { participantDnsName, participantFromSubjectAltName, participantUri } from './identity';

describe('participant identity in a certificate', () => {
  it('reads exactly one participant URI among other names', () => {
    expect(participantFromSubjectAltName('URI:urn:tongban:participant:110000, DNS:localhost, IP Address:127.0.0.1')).toBe('110000');
    expect(participantFromSubjectAltName('DNS:gw.example, URI:urn:tongban:participant:440000')).toBe('440000');
    expect(participantFromSubjectAltName('URI:urn:tongban:participant:110000, DNS:gateway-110000.tongban.invalid, DNS:localhost')).toBe('110000');
  });

  it('builds the participant DNS name only for a 6-digit code', () => {
    expect(participantDnsName('110000')).toBe('gateway-110000.tongban.invalid');
    expect(() => participantDnsName('1100001')).toThrow(/6 digits/);
  });

  it.each([
    ['no names at all', undefined],
    ['an empty string', ''],
    ['only host names', 'DNS:localhost, IP Address:127.0.0.1'],
    ['two participants', 'URI:urn:tongban:participant:110000, URI:urn:tongban:participant:130000'],
    ['a code of 5 digits', 'URI:urn:tongban:participant:11000'],
    ['a code of 7 digits', 'URI:urn:tongban:participant:1100000'],
    ['a suffix', 'URI:urn:tongban:participant:110000/x'],
    ['another scheme', 'URI:https://urn:tongban:participant:110000'],
    ['upper case prefix', 'URI:URN:TONGBAN:PARTICIPANT:110000'],
    ['a DNS name that looks like the URI', 'DNS:urn:tongban:participant:110000'],
    ['the participant DNS name of another participant', 'URI:urn:tongban:participant:110000, DNS:gateway-130000.tongban.invalid'],
    ['a wildcard participant DNS name', 'URI:urn:tongban:participant:110000, DNS:*.tongban.invalid'],
    ['another participant DNS name in upper case, with a trailing dot', 'URI:urn:tongban:participant:110000, DNS:GATEWAY-130000.TONGBAN.INVALID.'],
    ['a quoted entry smuggling a comma', 'URI:"urn:tongban:participant:110000, URI:urn:tongban:participant:130000"'],
  ])('names nobody for %s', (_what, san) => {
    expect(participantFromSubjectAltName(san)).toBeNull();
  });

  it('never throws and only ever answers a 6-digit code that appears as a whole URI entry (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.constantFrom('URI:urn:tongban:participant:120000', 'DNS:x', ', ', 'URI:', '"')), { maxLength: 8 }), (parts) => {
        const san = parts.join(', ');
        const code = participantFromSubjectAltName(san);
        if (code !== null) {
          expect(code).toMatch(/^\d{6}$/);
          expect(san.split(', ').filter((e) => e === `URI:urn:tongban:participant:${code}`)).toHaveLength(1);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('builds the URI only for a 6-digit code', () => {
    expect(participantUri('110000')).toBe('urn:tongban:participant:110000');
    expect(() => participantUri('11000x')).toThrow(/6 digits/);
  });
});

describe('handshakeReason', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { handshakeReason } = require('./transport-security') as typeof import('./transport-security');
  const err = (code: string, message = '') => Object.assign(new Error(message), { code });
  it.each([
    [err('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'), undefined, 'NO_CLIENT_CERTIFICATE'],
    [err('ECONNRESET', 'socket hang up'), 'SELF_SIGNED_CERT_IN_CHAIN', 'UNTRUSTED_CERTIFICATE'],
    [err('ECONNRESET', 'socket hang up'), 'CERT_HAS_EXPIRED', 'EXPIRED_CERTIFICATE'],
    [err('ERR_SSL_WRONG_VERSION_NUMBER'), undefined, 'NOT_TLS'],
    [err('ERR_SSL_HTTP_REQUEST'), undefined, 'NOT_TLS'],
    [err('ECONNRESET', 'socket hang up'), null, 'CONNECTION_RESET'],
    [err('ERR_SOMETHING_NEW'), undefined, 'OTHER'],
  ])('%s with authorizationError %s → %s', (e, auth, reason) => {
    expect(handshakeReason(e, auth)).toBe(reason);
  });
});
