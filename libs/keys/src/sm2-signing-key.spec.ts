import { generateKeyPairSync } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { SM2_N, Sm2Error, Sm2PublicKey, sm2Verify, toBytes32 } from '@tongban/gm';
import { Sm2SigningKey } from './sm2-signing-key';

function verifies(key: Sm2PublicKey, message: Uint8Array, sig: Uint8Array): boolean {
  try {
    return sm2Verify(key, message, sig);
  } catch (e) {
    if (e instanceof Sm2Error) return false;
    throw e;
  }
}

describe('Sm2SigningKey', () => {
  const signer = Sm2SigningKey.generate();
  const other = Sm2SigningKey.generate();

  it('property: every message signed verifies, under this key only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (message) => {
        const sig = signer.sign(message);
        expect(sig).toHaveLength(64);
        expect(sm2Verify(signer.publicKey, message, sig)).toBe(true);
        expect(sm2Verify(other.publicKey, message, sig)).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it('property: changing any bit of the message or of the signature is detected', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(), fc.nat(), fc.boolean(), (message, byte, bit, inSig) => {
        const sig = signer.sign(message);
        const m = Buffer.from(message);
        const s = Buffer.from(sig);
        if (inSig) s[byte % 64] ^= 1 << (bit % 8);
        else m[byte % m.length] ^= 1 << (bit % 8);
        expect(verifies(signer.publicKey, m, s)).toBe(false);
      }),
      { numRuns: 80 },
    );
  });

  it('signs with a random k (two signatures of one message differ, both verify)', () => {
    const m = Buffer.from('same');
    const [a, b] = [signer.sign(m), signer.sign(m)];
    expect(a.equals(b)).toBe(false);
    expect(sm2Verify(signer.publicKey, m, a) && sm2Verify(signer.publicKey, m, b)).toBe(true);
  });

  it('a signer identity other than the default changes Z_A; verify must use the same one', () => {
    const id = Buffer.from('ALICE123@YAHOO.COM');
    const sig = signer.sign(Buffer.from('m'), id);
    expect(sm2Verify(signer.publicKey, Buffer.from('m'), sig, id)).toBe(true);
    expect(sm2Verify(signer.publicKey, Buffer.from('m'), sig)).toBe(false);
  });

  it('round-trips through PKCS #8, and an EC-typed key on the SM2 curve is rebuilt as SM2 (not ECDSA)', () => {
    const again = Sm2SigningKey.fromPkcs8(signer.pkcs8());
    expect(again.publicKey.jwk()).toEqual(signer.publicKey.jwk());
    expect(sm2Verify(signer.publicKey, Buffer.from('x'), again.sign(Buffer.from('x')))).toBe(true);
    // Node's generator gives an EC-typed key: fed straight to createSign it would sign ECDSA.
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'SM2' });
    const rebuilt = Sm2SigningKey.fromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    expect(sm2Verify(rebuilt.publicKey, Buffer.from('y'), rebuilt.sign(Buffer.from('y')))).toBe(true);
  });

  it('refuses a key of another curve, a public point that is not d·G, and d outside [1, n-2]', () => {
    const code = (f: () => unknown) => {
      try {
        f();
        return 'accepted';
      } catch (e) {
        return e instanceof Sm2Error ? e.code : String(e);
      }
    };
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(code(() => Sm2SigningKey.fromPem(p256))).toBe('SM2_KEY_INVALID');
    expect(code(() => Sm2SigningKey.fromPem('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----'))).toBe('SM2_KEY_INVALID');
    const pub = other.publicKey.jwk();
    const d = (v: bigint) => toBytes32(v).toString('base64url');
    expect(code(() => Sm2SigningKey.fromJwk({ ...pub, d: d(12345n) }))).toBe('SM2_KEY_INVALID');
    expect(code(() => Sm2SigningKey.fromJwk({ ...pub, d: d(0n) }))).toBe('SM2_KEY_INVALID');
    expect(code(() => Sm2SigningKey.fromJwk({ ...pub, d: d(SM2_N - 1n) }))).toBe('SM2_KEY_INVALID');
    expect(code(() => Sm2SigningKey.fromJwk({ ...pub, d: 'short' }))).toBe('SM2_JWK_INVALID');
  });

  it('never shows the private scalar when logged or serialised', () => {
    const d = signer.pkcs8().subarray(36, 68);
    const shown = [JSON.stringify(signer), inspect(signer, { depth: 5 }), JSON.stringify(signer.publicKey.jwk())].join(' ');
    expect(shown).not.toContain(d.toString('hex'));
    expect(shown).not.toContain(d.toString('base64url'));
  });
});
