import { createECDH, randomBytes } from 'node:crypto';
import { Sm2Error, sm2Implementation, sm2NativeLoadState, sm2Verify, setSm2NativeMode } from '@tongban/gm';
import { Sm2SigningKey } from './sm2-signing-key';

// Native (tongban-sm2) and OpenSSL SM2 are interchangeable: 2,000 random (key, message) pairs, each
// signed by one and verified by the other, and by itself. setSm2NativeMode switches the implementation
// that Sm2SigningKey.sign and sm2Verify use, as TONGBAN_SM2_NATIVE does at boot.
const KEYS = 250;
const MESSAGES_PER_KEY = 8;

function as<T>(impl: 'native' | 'openssl', f: () => T): T {
  setSm2NativeMode(impl === 'native' ? 'auto' : 'off');
  try {
    expect(sm2Implementation()).toBe(impl);
    return f();
  } finally {
    setSm2NativeMode('auto');
  }
}

describe('SM2 native ⇄ OpenSSL interoperability', () => {
  beforeAll(() => {
    const { addon, error } = sm2NativeLoadState();
    if (!addon) throw new Error(`tongban-sm2 addon not loaded (${error}): run npm ci (or npm rebuild tongban-sm2)`);
  });

  it(`${KEYS * MESSAGES_PER_KEY} random (key, message) pairs verify across implementations, and only for their message`, () => {
    let pairs = 0;
    for (let i = 0; i < KEYS; i++) {
      const key = Sm2SigningKey.generate();
      for (let j = 0; j < MESSAGES_PER_KEY; j++) {
        const message = randomBytes(j * 37);
        const bySelf = as('native', () => key.sign(message));
        const byOpenssl = as('openssl', () => key.sign(message));
        expect(as('openssl', () => sm2Verify(key.publicKey, message, bySelf))).toBe(true);
        expect(as('native', () => sm2Verify(key.publicKey, message, byOpenssl))).toBe(true);
        expect(as('native', () => sm2Verify(key.publicKey, message, bySelf))).toBe(true);
        const other = Buffer.concat([message, Buffer.from([j])]);
        expect(as('native', () => sm2Verify(key.publicKey, other, byOpenssl))).toBe(false);
        expect(as('openssl', () => sm2Verify(key.publicKey, other, bySelf))).toBe(false);
        pairs++;
      }
    }
    expect(pairs).toBe(KEYS * MESSAGES_PER_KEY);
  });

  it('two signatures of one message differ (fresh k each time) and both verify', () => {
    const key = Sm2SigningKey.generate();
    const m = Buffer.from('same message');
    const a = key.sign(m);
    const b = key.sign(m);
    expect(a.equals(b)).toBe(false);
    expect(sm2Verify(key.publicKey, m, a) && sm2Verify(key.publicKey, m, b)).toBe(true);
  });

  it('a key of the smallest and largest allowed d signs natively and OpenSSL verifies', () => {
    for (const d of ['00'.repeat(31) + '01', 'fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54121']) {
      const key = Sm2SigningKey.fromPkcs8(pkcs8Of(Buffer.from(d, 'hex')));
      const m = Buffer.from('edge key');
      const sig = as('native', () => key.sign(m));
      expect(as('openssl', () => sm2Verify(key.publicKey, m, sig))).toBe(true);
    }
  });

  it('the native path refuses malformed signatures with the same named errors as OpenSSL', () => {
    const key = Sm2SigningKey.generate();
    for (const bad of [Buffer.alloc(63), Buffer.alloc(64), Buffer.alloc(64, 0xff)]) {
      const codes = (['native', 'openssl'] as const).map((impl) => {
        try {
          as(impl, () => sm2Verify(key.publicKey, Buffer.from('x'), bad));
          return 'none';
        } catch (e) {
          return e instanceof Sm2Error ? e.code : 'other';
        }
      });
      expect(codes[0]).not.toBe('none');
      expect(codes[0]).toBe(codes[1]);
    }
  });
});

// PKCS #8 of an SM2 key from its scalar, through OpenSSL (the public point is d·G).
function pkcs8Of(d: Buffer): Buffer {
  const ecdh = createECDH('SM2');
  ecdh.setPrivateKey(d);
  const head = Buffer.from('308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420', 'hex');
  return Buffer.concat([head, d, Buffer.from('a144034200', 'hex'), ecdh.getPublicKey()]);
}
