import { Inject, Injectable } from '@nestjs/common';
import { KeyEncryption } from './key-encryption';
import { KEYS_OPTIONS, KeysOptions } from './keys.options';

/**
 * Encrypts other secrets the gateway must store and use again (webhook HMAC keys) with the same
 * key-encryption secret and format (TONGBAN_SEAL_ALG: AES-256-GCM or SM4-CTR + HMAC-SM3) as the
 * signing keys, the purpose and the record id bound as associated data (a sealed value copied to
 * another row does not open). Values in either format open.
 */
@Injectable()
export class SecretSealer {
  private readonly encryption: KeyEncryption;

  constructor(@Inject(KEYS_OPTIONS) options: Pick<KeysOptions, 'keyEncryptionSecret' | 'sealAlg' | 'keyEncryptionSecretPrevious'>) {
    this.encryption = new KeyEncryption(options.keyEncryptionSecret, options.sealAlg, options.keyEncryptionSecretPrevious);
  }

  /** Seals `plaintext` for record `id` of `purpose` (key derivation is async and cached). */
  seal(purpose: string, id: string, plaintext: string): Promise<string> {
    return this.encryption.seal(SecretSealer.binding(purpose, id), Buffer.from(plaintext, 'utf8'));
  }

  /** The id of the secret `seal` writes under: store it with the value (`kek_id`). */
  kekId(): Promise<string> {
    return this.encryption.kekId();
  }

  /** The binding a sealed value of `purpose` for record `id` is authenticated with. */
  static binding(purpose: string, id: string): string {
    return `${purpose}:${id}`;
  }

  /** Throws when the secret is wrong or the value was altered or moved to another record. */
  async open(purpose: string, id: string, sealed: string, kekId?: string | null): Promise<string> {
    return (await this.encryption.open(SecretSealer.binding(purpose, id), sealed, kekId)).toString('utf8');
  }
}
