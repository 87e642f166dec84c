/** Signature algorithms a gateway can sign with. */
export type SigningAlg = 'EdDSA' | 'ES256';

/** Configuration the keys lib needs. */
export interface KeysOptions {
  keyEncryptionSecret: string;
  signingAlg: SigningAlg;
}

export const KEYS_OPTIONS = Symbol('KEYS_OPTIONS');
