import type { JwsAlgorithm } from '@tongban/gm';

/** Signature algorithms a gateway can sign with: every algorithm of @tongban/gm's JWS table. */
export type SigningAlg = JwsAlgorithm;

/** How secrets are sealed at rest (TONGBAN_SEAL_ALG); both formats always open. */
export type SealAlg = 'AES-256-GCM' | 'SM4-CTR-HMAC-SM3';

/** Every seal algorithm, the default first. */
export const SEAL_ALGS = ['AES-256-GCM', 'SM4-CTR-HMAC-SM3'] as const satisfies readonly SealAlg[];

/** Configuration the keys lib needs. */
export interface KeysOptions {
  keyEncryptionSecret: string;
  /** The secret being rotated away from: values sealed under it still open (docs/operations.md §4.1b). */
  keyEncryptionSecretPrevious?: string;
  signingAlg: SigningAlg;
  /** Format new and re-sealed secrets are written in (default AES-256-GCM). */
  sealAlg?: SealAlg;
}

export const KEYS_OPTIONS = Symbol('KEYS_OPTIONS');
