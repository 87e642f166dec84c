import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { KeyEncryption, sealedAlgOf } from './key-encryption';
import { SM4_SEAL_VERSION, deriveSm4SealKeys, sm4Open, sm4Parse, sm4Seal } from './sm4-ctr-hmac-sm3';

const hex = (s: string) => Buffer.from(s, 'hex');
const b64 = (b: Buffer) => b.toString('base64url');

describe('SM4 and HMAC-SM3 primitives (known answers)', () => {
  it('SM4 encrypts the GB/T 32907-2016 Appendix A example 1 block', () => {
    const key = hex('0123456789abcdeffedcba9876543210');
    const cipher = createCipheriv('sm4-ecb', key, null).setAutoPadding(false);
    expect(Buffer.concat([cipher.update(key), cipher.final()]).toString('hex')).toBe('681edf34d206965e86b3e94f536e4246');
  });

  it.each([
    ['0123456789abcdeffedcba9876543210', 'ac3236cb970cc20791364c395a1342d1a3cbc1878c6f30cd074cce385cdd70c7f234bc0e24c11980fd1286310ce37b926e02fcd0faa0baf38b2933851d824514'],
    ['fedcba98765432100123456789abcdef', '5dcccd25b95ab07417a08512ee160e2f8f661521cbbab44cc87138445bc29e5c0ae0297205d62704173b21239b887f6c8cb5b800917a2488284bde9e16ea2906'],
  ])('SM4-CTR under key %s matches the CTR example of draft-ribose-cfrg-sm4 (A.2.5)', (key, expected) => {
    const pt = hex('aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccddddddddddddddddeeeeeeeeeeeeeeeeffffffffffffffffaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb');
    const cipher = createCipheriv('sm4-ctr', hex(key), hex('000102030405060708090a0b0c0d0e0f'));
    expect(Buffer.concat([cipher.update(pt), cipher.final()]).toString('hex')).toBe(expected);
  });

  it('SM4-CTR carries the counter across all 128 bits (a random IV may end in ff…)', () => {
    const key = randomBytes(16);
    const iv = hex('00000000000000fffffffffffffffffe');
    const ecb = (block: Buffer) => createCipheriv('sm4-ecb', key, null).setAutoPadding(false).update(block);
    const stream = Buffer.concat([ecb(iv), ecb(hex('00000000000000ffffffffffffffffff')), ecb(hex('00000000000001000000000000000000'))]);
    const cipher = createCipheriv('sm4-ctr', key, iv);
    expect(cipher.update(Buffer.alloc(48))).toEqual(stream);
  });

  it.each([
    [
      '0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20',
      Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopqabcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'),
      'ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a',
    ],
    ['0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425', Buffer.alloc(50, 0xcd), '220bf579ded555393f0159f66c99877822a3ecf610d1552154b41d44b94db3ae'],
  ])('HMAC-SM3 with key %s matches GM/T 0042-2015 Appendix D.3', (key, message, expected) => {
    expect(createHmac('sm3', hex(key)).update(message).digest('hex')).toBe(expected);
  });
});

describe('sm4v1 sealed values (SM4-CTR + HMAC-SM3, encrypt-then-MAC)', () => {
  const keys = deriveSm4SealKeys(randomBytes(32));
  const salt = randomBytes(16);
  const binding = Buffer.from('kid-1');
  const plaintext = Buffer.from('a private key, DER-encoded in real life');
  const sealed = sm4Seal(keys, salt, binding, plaintext);
  const open = (value: string, bind = binding) => sm4Open(keys, bind, sm4Parse(value));

  it('derives the encryption and MAC keys separately, and the same from the same master', () => {
    const master = randomBytes(32);
    const a = deriveSm4SealKeys(master);
    expect(a).toEqual(deriveSm4SealKeys(master));
    expect(a.enc).toHaveLength(16);
    expect(a.mac).toHaveLength(32);
    expect(a.mac.subarray(0, 16).equals(a.enc)).toBe(false);
  });

  it('opens what it sealed; the ciphertext hides the plaintext and each seal uses a fresh IV', () => {
    expect(open(sealed)).toEqual(plaintext);
    expect(sealed.split('.')[0]).toBe(SM4_SEAL_VERSION);
    expect(sealed).not.toContain(b64(plaintext));
    expect(sm4Parse(sm4Seal(keys, salt, binding, plaintext)).iv).not.toEqual(sm4Parse(sealed).iv);
  });

  // Fields after the version: 1 salt, 2 IV, 3 ciphertext, 4 tag.
  it.each([
    [1, 'salt'],
    [2, 'IV'],
    [3, 'ciphertext'],
    [4, 'tag'],
  ])('refuses the value with any byte of the %s (field %s) flipped', (field) => {
    const parts = sealed.split('.');
    const bytes = Buffer.from(parts[field], 'base64url');
    for (let i = 0; i < bytes.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const changed = Buffer.from(bytes);
        changed[i] ^= mask;
        const altered = [...parts];
        altered[field] = b64(changed);
        expect(() => open(altered.join('.'))).toThrow();
      }
    }
  });

  it('refuses the value with any character of the format header changed, and other versions', () => {
    for (let i = 0; i < SM4_SEAL_VERSION.length; i++) {
      const header = SM4_SEAL_VERSION.slice(0, i) + String.fromCharCode(SM4_SEAL_VERSION.charCodeAt(i) ^ 1) + SM4_SEAL_VERSION.slice(i + 1);
      expect(() => open(header + sealed.slice(SM4_SEAL_VERSION.length))).toThrow(/unsupported sealed value format/);
    }
    expect(() => open('sm4v2' + sealed.slice(5))).toThrow(/unsupported/);
  });

  it('refuses another row binding, a truncated or extended tag or ciphertext, swapped fields and non-canonical base64url', () => {
    expect(() => open(sealed, Buffer.from('kid-2'))).toThrow(/does not authenticate/);
    expect(() => open(sealed, Buffer.alloc(0))).toThrow(/does not authenticate/);
    const parts = sealed.split('.');
    const tag = Buffer.from(parts[4], 'base64url');
    expect(() => open([...parts.slice(0, 4), b64(tag.subarray(0, 16))].join('.'))).toThrow(/tag must be 32 bytes/);
    expect(() => open([...parts.slice(0, 4), b64(Buffer.concat([tag, Buffer.alloc(1)]))].join('.'))).toThrow(/tag must be 32 bytes/);
    const ct = Buffer.from(parts[3], 'base64url');
    expect(() => open([...parts.slice(0, 3), b64(ct.subarray(0, ct.length - 1)), parts[4]].join('.'))).toThrow(/does not authenticate/);
    expect(() => open([...parts.slice(0, 3), b64(Buffer.concat([ct, Buffer.alloc(1)])), parts[4]].join('.'))).toThrow(/does not authenticate/);
    expect(() => open([parts[0], parts[2], parts[1], parts[3], parts[4]].join('.'))).toThrow(/does not authenticate/);
    expect(() => open([...parts.slice(0, 3), parts[3] + '*', parts[4]].join('.'))).toThrow(/canonical/);
    expect(() => open(sealed + '.x')).toThrow(/unsupported/);
  });

  it('does not open under another key-encryption secret', () => {
    expect(() => sm4Open(deriveSm4SealKeys(randomBytes(32)), binding, sm4Parse(sealed))).toThrow(/does not authenticate/);
  });

  it('round-trips any bytes under any binding, and only under that binding (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.string({ maxLength: 200 }), fc.string({ maxLength: 200 }), (pt, bind, other) => {
        const value = sm4Seal(keys, salt, Buffer.from(bind), Buffer.from(pt));
        expect(open(value, Buffer.from(bind))).toEqual(Buffer.from(pt));
        if (other !== bind) expect(() => open(value, Buffer.from(other))).toThrow();
      }),
      { numRuns: 300 },
    );
  });
});

describe('KeyEncryption with both formats', () => {
  const SECRET = 'a-unit-test-key-encryption-secret';
  const aes = new KeyEncryption(SECRET, 'AES-256-GCM');
  const sm4 = new KeyEncryption(SECRET, 'SM4-CTR-HMAC-SM3');
  const secretBytes = Buffer.from('a webhook secret or a PKCS#8 key');

  it('writes the chosen format and opens either format whatever it writes', async () => {
    const a = await aes.seal('webhook:1', secretBytes);
    const s = await sm4.seal('webhook:1', secretBytes);
    expect([sealedAlgOf(a), sealedAlgOf(s), sealedAlgOf('v9.x'), sealedAlgOf('')]).toEqual(['AES-256-GCM', 'SM4-CTR-HMAC-SM3', undefined, undefined]);
    for (const enc of [aes, sm4, new KeyEncryption(SECRET)]) {
      await expect(enc.open('webhook:1', a)).resolves.toEqual(secretBytes);
      await expect(enc.open('webhook:1', s)).resolves.toEqual(secretBytes);
      await expect(enc.open('webhook:2', s)).rejects.toThrow(/does not authenticate/);
    }
    await expect(new KeyEncryption('another-secret-of-enough-length').open('webhook:1', s)).rejects.toThrow(/does not authenticate/);
  });

  it('refuses an unknown seal algorithm by name', () => {
    expect(() => new KeyEncryption(SECRET, 'SM4-GCM' as never)).toThrow(/unknown seal algorithm SM4-GCM/);
  });
});
