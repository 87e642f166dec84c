import { createCipheriv, createDecipheriv, pbkdf2, randomBytes, scrypt, ScryptOptions } from 'node:crypto';
import { SealAlg } from './keys.options';
import { SM4_PBKDF2_ITERATIONS, SM4_SEAL_VERSION, Sm4SealKeys, deriveSm4SealKeys, sm4Open, sm4Parse, sm4Seal } from './sm4-ctr-hmac-sm3';

const AES_VERSION = 'v1';
// scrypt parameters: ~50 ms per derivation, run off the event loop (libuv thread pool) and paid once
// per salt: derived keys are cached, so neither boot nor a request waits on it more than once.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const TAG_BYTES = 16;
/** Derived keys kept per salt; a gateway holds a handful of keys and webhooks, not thousands. */
const CACHE_MAX = 1024;

function scryptAsync(secret: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(secret, salt, 32, options, (err, key) => (err ? reject(err) : resolve(key))));
}

function pbkdf2Sm3(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => pbkdf2(secret, salt, SM4_PBKDF2_ITERATIONS, 32, 'sm3', (err, key) => (err ? reject(err) : resolve(key))));
}

/** The format of a sealed value, from its first field; undefined when it is none we write. */
export function sealedAlgOf(sealed: string): SealAlg | undefined {
  const version = sealed.slice(0, sealed.indexOf('.'));
  return version === AES_VERSION ? 'AES-256-GCM' : version === SM4_SEAL_VERSION ? 'SM4-CTR-HMAC-SM3' : undefined;
}

/**
 * Sealing of private keys and other secrets at rest, in one of two self-describing formats:
 * `v1` AES-256-GCM (key from scrypt) and `sm4v1` SM4-CTR + HMAC-SM3, encrypt-then-MAC (master key
 * from PBKDF2-HMAC-SM3, split by HKDF-SM3 into separate encryption and MAC keys; see
 * `sm4-ctr-hmac-sm3.ts`). `alg` chooses what `seal` writes; `open` reads both, so values sealed
 * before a change of `alg` still open. The binding (key id, or purpose and record id) is
 * authenticated, so a value copied onto another row does not open. Derivations are asynchronous
 * (never the *Sync forms: they would stop the event loop) and cached per salt; sealing reuses one
 * salt per instance and format (a fresh random IV per value).
 */
export class KeyEncryption {
  private readonly derived = new Map<string, Promise<Buffer>>();
  private readonly sealSalts = new Map<SealAlg, Buffer>();

  constructor(
    private readonly secret: string,
    readonly alg: SealAlg = 'AES-256-GCM',
  ) {
    if (!secret || secret.length < 16) throw new Error('key-encryption secret must be at least 16 characters');
    if (alg !== 'AES-256-GCM' && alg !== 'SM4-CTR-HMAC-SM3') throw new Error(`unknown seal algorithm ${String(alg)}`);
  }

  /** Encrypts `plaintext` for `binding` (a key id, or purpose:id) in this instance's format. */
  async seal(binding: string, plaintext: Buffer): Promise<string> {
    let salt = this.sealSalts.get(this.alg);
    if (!salt) this.sealSalts.set(this.alg, (salt = randomBytes(16)));
    if (this.alg === 'SM4-CTR-HMAC-SM3') return sm4Seal(await this.sm4Keys(salt), salt, Buffer.from(binding, 'utf8'), plaintext);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', await this.derive('scrypt', salt), iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(binding, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [AES_VERSION, salt, iv, tag, ct].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
  }

  /**
   * Decrypts what `seal` produced in either format; throws if the secret is wrong, the value was
   * altered or it belongs to another binding. A GCM tag must be the full 16 bytes: GCM would
   * otherwise verify a truncated tag (down to 4 bytes), making a forgery 2^32 tries, not 2^128.
   */
  async open(binding: string, sealed: string): Promise<Buffer> {
    const alg = sealedAlgOf(sealed);
    if (alg === 'SM4-CTR-HMAC-SM3') {
      const parsed = sm4Parse(sealed);
      return sm4Open(await this.sm4Keys(parsed.salt), Buffer.from(binding, 'utf8'), parsed);
    }
    const parts = sealed.split('.');
    if (alg !== 'AES-256-GCM' || parts.length !== 5) throw new Error('unsupported key ciphertext format');
    const [salt, iv, tag, ct] = parts.slice(1).map((p) => Buffer.from(p, 'base64url'));
    if (tag.length !== TAG_BYTES) throw new Error(`key ciphertext tag must be ${TAG_BYTES} bytes`);
    if (salt.length !== 16 || iv.length !== 12) throw new Error('unsupported key ciphertext format');
    const decipher = createDecipheriv('aes-256-gcm', await this.derive('scrypt', salt), iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(binding, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ct), decipher.final()]);
  }

  private async sm4Keys(salt: Buffer): Promise<Sm4SealKeys> {
    return deriveSm4SealKeys(await this.derive('pbkdf2-sm3', salt));
  }

  private derive(kdf: 'scrypt' | 'pbkdf2-sm3', salt: Buffer): Promise<Buffer> {
    const id = `${kdf}:${salt.toString('base64url')}`;
    let key = this.derived.get(id);
    if (!key) {
      if (this.derived.size >= CACHE_MAX) this.derived.delete(this.derived.keys().next().value!);
      key = kdf === 'scrypt' ? scryptAsync(this.secret, salt, SCRYPT) : pbkdf2Sm3(this.secret, salt);
      key.catch(() => this.derived.delete(id));
      this.derived.set(id, key);
    }
    return key;
  }
}
