import fc from 'fast-check';
import { SM2_N, Sm2Error, Sm2PublicKey, sm2JwkThumbprint, sm2SignatureFromDer, sm2SignatureToDer, sm2ThumbprintInput, toBytes32 } from '.';

const hex = (s: string) => Buffer.from(s, 'hex');
// Public key of GB/T 32918.5 Annex A (see sm2-annex-a.spec.ts).
const X = hex('09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020');
const Y = hex('ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13');
const JWK = { kty: 'EC', crv: 'SM2', x: X.toString('base64url'), y: Y.toString('base64url') };
const SIG = hex('f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa');

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof Sm2Error) return e.code;
    throw e;
  }
  return 'accepted';
}

// Each attack on a key or signature is a file of the corpus (sm2-corpus.spec.ts); these are the
// encodings and conversions around them.
describe('SM2 public keys', () => {
  it('accepts the good JWK, with alg SM2SM3 or none, and serves it back in the same form', () => {
    expect(Sm2PublicKey.fromJwk(JWK).jwk()).toEqual(JWK);
    expect(codeOf(() => Sm2PublicKey.fromJwk({ ...JWK, alg: 'SM2SM3', kid: 'k', use: 'sig' }))).toBe('accepted');
  });

  it('refuses an SPKI of another curve, a compressed point and the one-byte identity', () => {
    const spki = Sm2PublicKey.fromJwk(JWK).spki();
    expect(Sm2PublicKey.fromSpki(spki).jwk()).toEqual(JWK);
    const p256 = Buffer.from(spki);
    p256.set(hex('06082a8648ce3d030107'), 13); // prime256v1 in place of the SM2 curve OID
    expect(codeOf(() => Sm2PublicKey.fromSpki(p256))).toBe('SM2_KEY_INVALID');
    const compressed = Buffer.concat([hex('3039301306072a8648ce3d020106082a811ccf5501822d032200'), Buffer.from([0x02 | (Y[31] & 1)]), X]);
    expect(codeOf(() => Sm2PublicKey.fromSpki(compressed))).toBe('SM2_KEY_INVALID');
    expect(codeOf(() => Sm2PublicKey.fromSpki(hex('3019301306072a8648ce3d020106082a811ccf5501822d03020000')))).toBe('SM2_POINT_AT_INFINITY');
  });

  const CODES = ['accepted', 'SM2_JWK_INVALID', 'SM2_JWK_PRIVATE', 'SM2_ALG_MISMATCH', 'SM2_POINT_NOT_ON_CURVE', 'SM2_POINT_AT_INFINITY', 'SM2_KEY_INVALID'];

  it('property: any JSON value as a JWK is accepted only as the good key, else refused by a named code', () => {
    const b64 = fc.uint8Array({ minLength: 30, maxLength: 34 }).map((b) => Buffer.from(b).toString('base64url'));
    const member = fc.oneof(b64, fc.string(), fc.constantFrom(JWK.x, JWK.y, 'EC', 'SM2', 'SM2SM3', 'ES256'), fc.integer(), fc.constant(null));
    const jwkLike = fc.record({ kty: member, crv: member, x: member, y: member, alg: member, d: member }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.oneof(jwkLike, fc.jsonValue()), (jwk) => {
        const code = codeOf(() => Sm2PublicKey.fromJwk(jwk));
        expect(CODES).toContain(code);
        if (code === 'accepted') expect(Sm2PublicKey.fromJwk(jwk).jwk()).toEqual(JWK);
      }),
      { numRuns: 500 },
    );
  });

  it('property: random coordinates are off the curve (refused), and any byte string as an SPKI is refused by name', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (x, y) => {
        expect(codeOf(() => Sm2PublicKey.fromPoint({ x: Buffer.from(x), y: Buffer.from(y) }))).toMatch(/^SM2_POINT_(NOT_ON_CURVE|AT_INFINITY)$/);
      }),
    );
    const spki = Sm2PublicKey.fromJwk(JWK).spki();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 100 }),
          fc.tuple(fc.nat(spki.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, bit]) => Buffer.from(spki).fill(spki[i] ^ bit, i, i + 1)),
        ),
        (bytes) => {
          expect(CODES.slice(1)).toContain(codeOf(() => Sm2PublicKey.fromSpki(bytes)));
        },
      ),
    );
  });

  it('thumbprint input has crv, kty, x, y in that order and no whitespace', () => {
    expect(sm2ThumbprintInput(Sm2PublicKey.fromJwk(JWK).jwk())).toBe(`{"crv":"SM2","kty":"EC","x":"${JWK.x}","y":"${JWK.y}"}`);
    expect(sm2JwkThumbprint(Sm2PublicKey.fromJwk(JWK).jwk())).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('SM2 signatures: r‖s and DER', () => {
  it('r‖s ↔ DER round-trips; a non-minimal, negative or trailing DER is refused', () => {
    expect(sm2SignatureFromDer(sm2SignatureToDer(SIG))).toEqual(SIG);
    const der = sm2SignatureToDer(SIG);
    expect(codeOf(() => sm2SignatureFromDer(Buffer.concat([der, Buffer.from([0])])))).toBe('SM2_SIGNATURE_DER');
    expect(codeOf(() => sm2SignatureFromDer(hex('3008020200010202000f')))).toBe('SM2_SIGNATURE_DER');
    expect(codeOf(() => sm2SignatureFromDer(hex('300602018102010f')))).toBe('SM2_SIGNATURE_DER');
    expect(codeOf(() => sm2SignatureFromDer(hex('3006020100020101')))).toBe('SM2_SIGNATURE_RANGE');
  });

  it('property: DER conversion round-trips every in-range r, s (short values included)', () => {
    const scalar = fc.bigInt({ min: 1n, max: SM2_N - 1n });
    fc.assert(
      fc.property(fc.oneof(scalar, fc.bigInt({ min: 1n, max: 1n << 20n })), scalar, (r, s) => {
        const sig = Buffer.concat([toBytes32(r), toBytes32(s)]);
        expect(sm2SignatureFromDer(sm2SignatureToDer(sig))).toEqual(sig);
      }),
    );
  });

  it('property: arbitrary bytes as a DER signature either convert to an in-range r‖s or are refused by name', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const c = codeOf(() => sm2SignatureFromDer(bytes));
        expect(['accepted', 'SM2_SIGNATURE_DER', 'SM2_SIGNATURE_RANGE']).toContain(c);
      }),
    );
  });
});
