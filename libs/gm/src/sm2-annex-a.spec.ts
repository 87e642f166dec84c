import { Sm2SigningKey } from '@tongban/keys';
import { sm2SignWithNonce } from '@tongban/testkit';
import { SM2_DEFAULT_SIGNER_ID, Sm2PublicKey, sm2MessageDigest, sm2SelfTest, sm2Verify, sm3, sm2Za } from '.';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// The worked signature example on the recommended curve: GB/T 32918.5-2017 / GM/T 0003.5-2012
// Annex A, as OpenSSL's own test suite reproduces it (openssl/openssl test/sm2_internal_test.c,
// sm2_sig_test, "From Annex A in both GM/T0003.5-2012 and GB/T 32918.5-2016"): default identity
// 1234567812345678, message "message digest", fixed k. e is the published hash value H.
const A = {
  d: hex('3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8'),
  x: hex('09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020'),
  y: hex('CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13'),
  message: Buffer.from('message digest', 'ascii'),
  e: hex('F0B43E94 BA45ACCA ACE692ED 534382EB 17E6AB5A 19CE7B31 F4486FDF C0D28640'),
  k: hex('59276E27 D506861A 16680F3A D9C02DCC EF3CC1FA 3CDBE4CE 6D54B80D EAC1BC21'),
  r: hex('F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3'),
  s: hex('B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA'),
};

describe('SM2 worked example of GB/T 32918.5 Annex A (recommended curve, fixed k)', () => {
  const key = Sm2PublicKey.fromPoint({ x: A.x, y: A.y });
  const signature = Buffer.concat([A.r, A.s]);

  it('SM3 gives the GB/T 32905-2016 example digest of "abc"', () => {
    expect(sm3(Buffer.from('abc')).toString('hex')).toBe('66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
  });

  it('Z_A with the default identity and e = SM3(Z_A ‖ M) are the published H', () => {
    expect(sm2Za(key.point)).toEqual(key.za);
    expect(sm2Za(key.point, SM2_DEFAULT_SIGNER_ID)).toEqual(key.za);
    expect(sm2MessageDigest(key.za, A.message)).toEqual(A.e);
  });

  it('the private key d gives the published public key', () => {
    const signer = Sm2SigningKey.fromJwk({ kty: 'EC', crv: 'SM2', x: A.x.toString('base64url'), y: A.y.toString('base64url'), d: A.d.toString('base64url') });
    expect(signer.publicKey.point).toEqual({ x: A.x, y: A.y });
  });

  it('signing with the published k reproduces r and s exactly', () => {
    expect(sm2SignWithNonce(A.d, key.za, A.message, A.k)).toEqual(signature);
  });

  it('the published signature verifies, and not for another message, identity or key', () => {
    expect(sm2Verify(key, A.message, signature)).toBe(true);
    expect(sm2Verify(key, Buffer.from('message digesT'), signature)).toBe(false);
    expect(sm2Verify(key, A.message, signature, Buffer.from('ALICE123@YAHOO.COM'))).toBe(false);
    expect(sm2Verify(Sm2SigningKey.generate().publicKey, A.message, signature)).toBe(false);
  });
});

describe('SM2 known-answer self-test', () => {
  it('passes with the Annex A answer and fails by name with a wrong one', () => {
    expect(() => sm2SelfTest()).not.toThrow();
    const wrong = { x: A.x.toString('hex'), y: A.y.toString('hex'), message: 'message digest', signature: Buffer.concat([A.s, A.r]).toString('hex') };
    expect(() => sm2SelfTest(wrong)).toThrow(expect.objectContaining({ code: 'SM2_SELF_TEST_FAILED' }));
    // The published signature presented for another message fails it too.
    expect(() => sm2SelfTest({ ...wrong, signature: Buffer.concat([A.r, A.s]).toString('hex'), message: 'message digesT' })).toThrow(expect.objectContaining({ code: 'SM2_SELF_TEST_FAILED' }));
  });
});
