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

/** Parameters of the key-encryption secret's id (see kekIdOf): the same cost as sealing a value. */
const KEK_ID_SALT = Buffer.from('tongban/kek-id/v1', 'ascii');

/**
 * The id of a key-encryption secret, stored beside every value sealed under it (`kek_id`) and shown
 * to operators: `kek-` and 12 hex digits of scrypt(secret, fixed salt). It names a secret without
 * revealing it; guessing a secret from it costs the same scrypt as guessing it from any sealed value.
 */
export function kekIdOf(secret: string): Promise<string> {
  // Computed once per secret and process: every KeyEncryption of the same secret shares it.
  let id = kekIds.get(secret);
  if (!id) {
    id = scryptAsync(secret, KEK_ID_SALT, SCRYPT).then((k) => `kek-${k.subarray(0, 6).toString('hex')}`);
    id.catch(() => kekIds.delete(secret));
    kekIds.set(secret, id);
  }
  return id;
}
const kekIds = new Map<string, Promise<string>>();

/** A sealed value needs a key-encryption secret this process was not given (named by its id only). */
export class UnknownKekError extends Error {
  constructor(
    readonly kekId: string,
    known: string[],
  ) {
    super(`sealed under key-encryption secret ${kekId}, which this process does not have (it has ${known.join(' and ')}: TONGBAN_KEY_ENCRYPTION_SECRET, TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS)`);
  }
}

/** One key-encryption secret with its derived keys (cached per salt) and its id. */
class SecretKeys {
  private readonly derived = new Map<string, Promise<Buffer>>();
  constructor(private readonly secret: string) {}

  kekId(): Promise<string> {
    return kekIdOf(this.secret);
  }

  derive(kdf: 'scrypt' | 'pbkdf2-sm3', salt: Buffer): Promise<Buffer> {
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

/**
 * Sealing of private keys and other secrets at rest, in one of two self-describing formats:
 * `v1` AES-256-GCM (key from scrypt) and `sm4v1` SM4-CTR + HMAC-SM3, encrypt-then-MAC (master key
 * from PBKDF2-HMAC-SM3, split by HKDF-SM3 into separate encryption and MAC keys; see
 * `sm4-ctr-hmac-sm3.ts`). `alg` chooses what `seal` writes; `open` reads both, so values sealed
 * before a change of `alg` still open. The binding (key id, or purpose and record id) is
 * authenticated, so a value copied onto another row does not open. Derivations are asynchronous
 * (never the *Sync forms: they would stop the event loop) and cached per salt; sealing reuses one
 * salt per instance and format (a fresh random IV per value).
 *
 * `seal` always uses the current secret; `open` also accepts values sealed under `previous` (during
 * a rotation of the secret, docs/operations.md §4.1b): the value's stored kek id says which, and a
 * value without one (written by an earlier release) is tried under the current secret, then the
 * previous one.
 */
export class KeyEncryption {
  private readonly current: SecretKeys;
  private readonly previous: SecretKeys | undefined;
  private readonly sealSalts = new Map<SealAlg, Buffer>();

  constructor(
    secret: string,
    readonly alg: SealAlg = 'AES-256-GCM',
    previous?: string,
  ) {
    if (!secret || secret.length < 16) throw new Error('key-encryption secret must be at least 16 characters');
    if (alg !== 'AES-256-GCM' && alg !== 'SM4-CTR-HMAC-SM3') throw new Error(`unknown seal algorithm ${String(alg)}`);
    this.current = new SecretKeys(secret);
    if (previous !== undefined && previous !== secret) {
      if (previous.length < 16) throw new Error('previous key-encryption secret must be at least 16 characters');
      this.previous = new SecretKeys(previous);
    }
  }

  /** The id of the current secret: what `seal` writes under (store it with the value). */
  kekId(): Promise<string> {
    return this.current.kekId();
  }

  /** The ids of the secrets this instance has: the current one, then the previous one if any. */
  async kekIds(): Promise<{ current: string; previous: string | null }> {
    return { current: await this.current.kekId(), previous: (await this.previous?.kekId()) ?? null };
  }

  /** Encrypts `plaintext` for `binding` (a key id, or purpose:id) in this instance's format, under the current secret. */
  async seal(binding: string, plaintext: Buffer): Promise<string> {
    let salt = this.sealSalts.get(this.alg);
    if (!salt) this.sealSalts.set(this.alg, (salt = randomBytes(16)));
    if (this.alg === 'SM4-CTR-HMAC-SM3') return sm4Seal(await this.sm4Keys(this.current, salt), salt, Buffer.from(binding, 'utf8'), plaintext);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', await this.current.derive('scrypt', salt), iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(binding, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [AES_VERSION, salt, iv, tag, ct].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
  }

  /**
   * Decrypts what `seal` produced in either format; throws if the secret is wrong, the value was
   * altered or it belongs to another binding (UnknownKekError when `kekId` names a secret this
   * instance does not have).
   */
  async open(binding: string, sealed: string, kekId?: string | null): Promise<Buffer> {
    return (await this.openFound(binding, sealed, kekId)).plaintext;
  }

  /** `open`, also saying under which secret (its kek id) the value opened. */
  async openLabelled(binding: string, sealed: string, kekId?: string | null): Promise<{ plaintext: Buffer; kekId: string }> {
    const { plaintext, keys } = await this.openFound(binding, sealed, kekId);
    return { plaintext, kekId: await keys.kekId() };
  }

  private async openFound(binding: string, sealed: string, kekId?: string | null): Promise<{ plaintext: Buffer; keys: SecretKeys }> {
    const candidates: SecretKeys[] = [];
    if (kekId) {
      const ids = await this.kekIds();
      if (kekId === ids.current) candidates.push(this.current);
      else if (kekId === ids.previous && this.previous) candidates.push(this.previous);
      else throw new UnknownKekError(kekId, [ids.current, ...(ids.previous ? [ids.previous] : [])]);
    } else candidates.push(this.current, ...(this.previous ? [this.previous] : []));
    let error: unknown;
    for (const keys of candidates) {
      try {
        return { plaintext: await this.openWith(keys, binding, sealed), keys };
      } catch (e) {
        error ??= e;
      }
    }
    throw error;
  }

  /**
   * A GCM tag must be the full 16 bytes: GCM would otherwise verify a truncated tag (down to 4
   * bytes), making a forgery 2^32 tries, not 2^128.
   */
  private async openWith(keys: SecretKeys, binding: string, sealed: string): Promise<Buffer> {
    const alg = sealedAlgOf(sealed);
    if (alg === 'SM4-CTR-HMAC-SM3') {
      const parsed = sm4Parse(sealed);
      return sm4Open(await this.sm4Keys(keys, parsed.salt), Buffer.from(binding, 'utf8'), parsed);
    }
    const parts = sealed.split('.');
    if (alg !== 'AES-256-GCM' || parts.length !== 5) throw new Error('unsupported key ciphertext format');
    const [salt, iv, tag, ct] = parts.slice(1).map((p) => Buffer.from(p, 'base64url'));
    if (tag.length !== TAG_BYTES) throw new Error(`key ciphertext tag must be ${TAG_BYTES} bytes`);
    if (salt.length !== 16 || iv.length !== 12) throw new Error('unsupported key ciphertext format');
    const decipher = createDecipheriv('aes-256-gcm', await keys.derive('scrypt', salt), iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(binding, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ct), decipher.final()]);
  }

  private async sm4Keys(keys: SecretKeys, salt: Buffer): Promise<Sm4SealKeys> {
    return deriveSm4SealKeys(await keys.derive('pbkdf2-sm3', salt));
  }
}
