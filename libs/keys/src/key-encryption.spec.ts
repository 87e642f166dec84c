import { createCipheriv, randomBytes, scrypt } from 'node:crypto';
import { KeyEncryption, UnknownKekError, kekIdOf } from './key-encryption';

const SECRET = 'a-unit-test-key-encryption-secret';
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const b64 = (b: Buffer) => b.toString('base64url');

// Seals like the v1 format, with the authentication tag cut to `tagBytes` (GCM computes the
// first bytes of the same tag, so the truncated value is what a forger would try).
async function sealWithTag(kid: string, plaintext: Buffer, tagBytes: number): Promise<string> {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const kek = await new Promise<Buffer>((res, rej) => scrypt(SECRET, salt, 32, SCRYPT, (e, k) => (e ? rej(e) : res(k))));
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const tag = cipher.getAuthTag().subarray(0, tagBytes);
  return ['v1', b64(salt), b64(iv), b64(tag), b64(ct)].join('.');
}

describe('KeyEncryption', () => {
  const enc = new KeyEncryption(SECRET);
  const secretBytes = Buffer.from('a private key, DER-encoded in real life');

  it('opens what it sealed, only for the same kid and secret', async () => {
    const sealed = await enc.seal('kid-1', secretBytes);
    await expect(enc.open('kid-1', sealed)).resolves.toEqual(secretBytes);
    await expect(new KeyEncryption(SECRET).open('kid-1', sealed)).resolves.toEqual(secretBytes);
    await expect(enc.open('kid-2', sealed)).rejects.toThrow();
    await expect(new KeyEncryption('another-secret-of-enough-length').open('kid-1', sealed)).rejects.toThrow();
  });

  it('accepts a full 16-byte tag written the old way', async () => {
    await expect(enc.open('kid-1', await sealWithTag('kid-1', secretBytes, 16))).resolves.toEqual(secretBytes);
  });

  it.each([4, 8, 12, 15])('refuses a tag truncated to %i bytes (GCM would verify the prefix)', async (bytes) => {
    await expect(enc.open('kid-1', await sealWithTag('kid-1', secretBytes, bytes))).rejects.toThrow(/tag must be 16 bytes/);
  });

  it('refuses an altered ciphertext', async () => {
    const parts = (await enc.seal('kid-1', secretBytes)).split('.');
    const ct = Buffer.from(parts[4], 'base64url');
    ct[0] ^= 1;
    parts[4] = b64(ct);
    await expect(enc.open('kid-1', parts.join('.'))).rejects.toThrow();
  });

  it('names a secret by a kek id that does not reveal it: kek- and 12 hex digits, one per secret', async () => {
    const id = await kekIdOf(SECRET);
    expect(id).toMatch(/^kek-[0-9a-f]{12}$/);
    expect(await kekIdOf(SECRET)).toBe(id);
    expect(await kekIdOf('another-secret-of-enough-length')).not.toBe(id);
    expect(await new KeyEncryption(SECRET).kekId()).toBe(id);
  });

  it('opens values sealed under the previous secret during a rotation, by their kek id or by trying', async () => {
    const previous = 'the-secret-being-rotated-away-from';
    const old = await new KeyEncryption(previous).seal('kid-1', secretBytes);
    const rotating = new KeyEncryption(SECRET, 'AES-256-GCM', previous);
    const oldId = await kekIdOf(previous);
    await expect(rotating.kekIds()).resolves.toEqual({ current: await kekIdOf(SECRET), previous: oldId });
    await expect(rotating.openLabelled('kid-1', old, oldId)).resolves.toEqual({ plaintext: secretBytes, kekId: oldId });
    await expect(rotating.openLabelled('kid-1', old)).resolves.toEqual({ plaintext: secretBytes, kekId: oldId });
    const fresh = await rotating.seal('kid-1', secretBytes);
    await expect(new KeyEncryption(SECRET).open('kid-1', fresh)).resolves.toEqual(secretBytes);
    // The kek id says which secret: a value labelled with the current id is not tried under the previous one.
    await expect(rotating.open('kid-1', old, await kekIdOf(SECRET))).rejects.toThrow();
    // A kek id it does not have is named, never a secret.
    const unknown = await rotating.open('kid-1', old, 'kek-000000000000').catch((e: Error) => e);
    expect(unknown).toBeInstanceOf(UnknownKekError);
    expect((unknown as Error).message).toContain('kek-000000000000');
    expect((unknown as Error).message).not.toContain(previous);
    await expect(new KeyEncryption(SECRET).open('kid-1', old)).rejects.toThrow();
  });

  it('derives keys off the event loop: timers run while a derivation is under way', async () => {
    const fresh = new KeyEncryption(SECRET);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    // The interval fires while scrypt runs in the thread pool; a synchronous derivation would
    // finish (and clear the interval) before any timer could run.
    await fresh.seal('kid-1', secretBytes).finally(() => clearInterval(timer));
    expect(ticks).toBeGreaterThan(0);
  });
});
