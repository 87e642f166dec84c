import { createCipheriv, createDecipheriv, randomBytes, scrypt, ScryptOptions } from 'node:crypto';

const VERSION = 'v1';
// scrypt parameters: ~50 ms per derivation, run off the event loop (libuv thread pool) and paid once
// per salt: derived keys are cached, so neither boot nor a request waits on it more than once.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const TAG_BYTES = 16;
/** Derived keys kept per salt; a gateway holds a handful of keys and webhooks, not thousands. */
const CACHE_MAX = 1024;

function scryptAsync(secret: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(secret, salt, 32, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/**
 * AES-256-GCM wrapping of private keys at rest. The key-encryption key is derived from the
 * configured secret with scrypt and a per-record salt; the key id is bound as associated data,
 * so a ciphertext copied onto another row does not decrypt. Derivation is asynchronous (never
 * `scryptSync`: it would stop the event loop ~50 ms per call) and cached per salt; sealing reuses
 * one salt per instance (a fresh random 96-bit IV per record keeps GCM safe under one key).
 */
export class KeyEncryption {
  private readonly derived = new Map<string, Promise<Buffer>>();
  private sealSalt: Buffer | undefined;

  constructor(private readonly secret: string) {
    if (!secret || secret.length < 16) throw new Error('key-encryption secret must be at least 16 characters');
  }

  /** Encrypts `plaintext` for the key `kid`; returns a self-describing string. */
  async seal(kid: string, plaintext: Buffer): Promise<string> {
    this.sealSalt ??= randomBytes(16);
    const salt = this.sealSalt;
    const iv = randomBytes(12);
    const kek = await this.kek(salt);
    const cipher = createCipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(kid, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, salt, iv, tag, ct].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
  }

  /**
   * Decrypts what `seal` produced; throws if the secret is wrong or the record was altered. The tag
   * must be the full 16 bytes: GCM would otherwise verify a truncated tag (down to 4 bytes), making
   * a forgery a matter of 2^32 tries instead of 2^128.
   */
  async open(kid: string, sealed: string): Promise<Buffer> {
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) throw new Error('unsupported key ciphertext format');
    const [salt, iv, tag, ct] = parts.slice(1).map((p) => Buffer.from(p, 'base64url'));
    if (tag.length !== TAG_BYTES) throw new Error(`key ciphertext tag must be ${TAG_BYTES} bytes`);
    if (salt.length !== 16 || iv.length !== 12) throw new Error('unsupported key ciphertext format');
    const kek = await this.kek(salt);
    const decipher = createDecipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(kid, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ct), decipher.final()]);
  }

  private kek(salt: Buffer): Promise<Buffer> {
    const id = salt.toString('base64url');
    let key = this.derived.get(id);
    if (!key) {
      if (this.derived.size >= CACHE_MAX) this.derived.delete(this.derived.keys().next().value!);
      key = scryptAsync(this.secret, salt, SCRYPT);
      key.catch(() => this.derived.delete(id));
      this.derived.set(id, key);
    }
    return key;
  }
}
