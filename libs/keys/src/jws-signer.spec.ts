import { JWS_ALGORITHMS, JwsAlgorithm, importPublicJwk, publicJwkThumbprint, verifyJwsSignature, verifyJwsWithKeySet } from '@tongban/gm';
import { calculateJwkThumbprint } from 'jose';
import { generateSigningKey, loadSigner, ownPublicKey } from './jws-signer';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function jws(alg: JwsAlgorithm, pkcs8: Buffer, kid = 'k1'): string {
  const input = `${b64({ alg, kid, typ: 't' })}.${b64({ iss: '130000', n: 1 })}`;
  return `${input}.${loadSigner(alg, pkcs8)(Buffer.from(input, 'ascii')).toString('base64url')}`;
}

// Generated from the table of algorithms: every algorithm a gateway may sign with goes through the
// one signing entry (loadSigner) and the one verification entry (verifyJwsSignature), both ways.
describe.each(JWS_ALGORITHMS.map((a) => [a]))('JWS algorithm %s: sign and verify through the one entry per direction', (alg) => {
  const key = generateSigningKey(alg);
  const token = jws(alg, key.pkcs8);
  const publicKey = ownPublicKey(alg, key.jwk);

  it('verifies its own signature, in the JWS form (64 bytes r‖s for the curves)', () => {
    expect(verifyJwsSignature(token, publicKey, alg)).toBe(true);
    if (alg !== 'EdDSA') expect(Buffer.from(token.split('.')[2], 'base64url')).toHaveLength(64);
  });

  it('refuses a changed payload, signature or another key of the same algorithm', () => {
    const [h, p, s] = token.split('.');
    expect(verifyJwsSignature(`${h}.${b64({ iss: '130000', n: 2 })}.${s}`, publicKey, alg)).toBe(false);
    const sig = Buffer.from(s, 'base64url');
    sig[5] ^= 1;
    expect(verifyJwsSignature(`${h}.${p}.${sig.toString('base64url')}`, publicKey, alg)).toBe(false);
    expect(verifyJwsSignature(token, ownPublicKey(alg, generateSigningKey(alg).jwk), alg)).toBe(false);
  });

  it.each(JWS_ALGORITHMS.filter((other) => other !== alg).map((o) => [o]))('a %s key or label never verifies it', (other) => {
    expect(verifyJwsSignature(token, ownPublicKey(other, generateSigningKey(other).jwk), other)).toBe(false);
    expect(verifyJwsSignature(token, publicKey, other)).toBe(false);
    expect(() => importPublicJwk(key.jwk, other)).toThrow();
  });

  it('the kid is the RFC 7638 thumbprint, as jose computes it', async () => {
    expect(publicJwkThumbprint(key.jwk)).toBe(await calculateJwkThumbprint(key.jwk as never, 'sha256'));
  });

  it('verifies against a JWK Set (offline tools), by kid and alg', () => {
    const kid = publicJwkThumbprint(key.jwk);
    const t = jws(alg, key.pkcs8, kid);
    const set = { keys: [{ ...key.jwk, kid, alg, use: 'sig' }] };
    expect(verifyJwsWithKeySet(t, set, JWS_ALGORITHMS)).toMatchObject({ header: { alg, kid } });
    expect(
      verifyJwsWithKeySet(
        t,
        set,
        JWS_ALGORITHMS.filter((a) => a !== alg),
      ),
    ).toEqual({ problem: 'ERR_JOSE_ALG_NOT_ALLOWED' });
    expect(verifyJwsWithKeySet(jws(alg, key.pkcs8, 'other'), set, JWS_ALGORITHMS)).toEqual({ problem: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(verifyJwsWithKeySet(jws(alg, generateSigningKey(alg).pkcs8, kid), set, JWS_ALGORITHMS)).toEqual({ problem: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });
});

describe('SM2SM3 signatures of the wrong shape do not verify', () => {
  const key = generateSigningKey('SM2SM3');
  const publicKey = ownPublicKey('SM2SM3', key.jwk);
  const [h, p, s] = jws('SM2SM3', key.pkcs8).split('.');
  const n = Buffer.from('fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123', 'hex');
  it.each([
    ['63 bytes', Buffer.from(s, 'base64url').subarray(1)],
    ['65 bytes', Buffer.concat([Buffer.from(s, 'base64url'), Buffer.from([0])])],
    ['r = 0', Buffer.concat([Buffer.alloc(32), Buffer.from(s, 'base64url').subarray(32)])],
    ['s = n', Buffer.concat([Buffer.from(s, 'base64url').subarray(0, 32), n])],
  ])('%s', (_name, sig) => {
    expect(verifyJwsSignature(`${h}.${p}.${sig.toString('base64url')}`, publicKey, 'SM2SM3')).toBe(false);
  });

  it('an SM2 JWK with another alg is refused by name', () => {
    expect(() => importPublicJwk({ ...key.jwk, alg: 'ES256' }, 'SM2SM3')).toThrow(expect.objectContaining({ code: 'SM2_ALG_MISMATCH' }));
    expect(() => importPublicJwk({ ...key.jwk, y: key.jwk.x }, 'SM2SM3')).toThrow(expect.objectContaining({ code: 'SM2_POINT_NOT_ON_CURVE' }));
  });
});
