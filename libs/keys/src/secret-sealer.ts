import { Inject, Injectable } from '@nestjs/common';
import { KeyEncryption } from './key-encryption';
import { KEYS_OPTIONS, KeysOptions } from './keys.options';

/**
 * Encrypts other secrets the gateway must store and use again (webhook HMAC keys) with the same
 * key-encryption secret as the signing keys: AES-256-GCM, scrypt-derived key, the purpose and the
 * record id bound as associated data (a sealed value copied to another row does not open).
 */
@Injectable()
export class SecretSealer {
  private readonly encryption: KeyEncryption;

  constructor(@Inject(KEYS_OPTIONS) options: Pick<KeysOptions, 'keyEncryptionSecret'>) {
    this.encryption = new KeyEncryption(options.keyEncryptionSecret);
  }

  /** Seals `plaintext` for record `id` of `purpose` (key derivation is async and cached). */
  seal(purpose: string, id: string, plaintext: string): Promise<string> {
    return this.encryption.seal(`${purpose}:${id}`, Buffer.from(plaintext, 'utf8'));
  }

  /** Throws when the secret is wrong or the value was altered or moved to another record. */
  async open(purpose: string, id: string, sealed: string): Promise<string> {
    return (await this.encryption.open(`${purpose}:${id}`, sealed)).toString('utf8');
  }
}
