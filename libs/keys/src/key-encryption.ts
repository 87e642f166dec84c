import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';

const VERSION = 'v1';
// scrypt parameters: ~50 ms per unwrap, paid once per key at boot.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

/**
 * AES-256-GCM wrapping of private keys at rest. The key-encryption key is derived from the
 * configured secret with scrypt and a per-record salt; the key id is bound as associated data,
 * so a ciphertext copied onto another row does not decrypt.
 */
export class KeyEncryption {
  constructor(private readonly secret: string) {
    if (!secret || secret.length < 16) throw new Error('key-encryption secret must be at least 16 characters');
  }

  /** Encrypts `plaintext` for the key `kid`; returns a self-describing string. */
  seal(kid: string, plaintext: Buffer): string {
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const kek = scryptSync(this.secret, salt, 32, SCRYPT);
    const cipher = createCipheriv('aes-256-gcm', kek, iv);
    cipher.setAAD(Buffer.from(kid, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, salt, iv, tag, ct].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
  }

  /** Decrypts what `seal` produced; throws if the secret is wrong or the record was altered. */
  open(kid: string, sealed: string): Buffer {
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) throw new Error('unsupported key ciphertext format');
    const [salt, iv, tag, ct] = parts.slice(1).map((p) => Buffer.from(p, 'base64url'));
    const kek = scryptSync(this.secret, salt, 32, SCRYPT);
    const decipher = createDecipheriv('aes-256-gcm', kek, iv);
    decipher.setAAD(Buffer.from(kid, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ct), decipher.final()]);
  }
}
