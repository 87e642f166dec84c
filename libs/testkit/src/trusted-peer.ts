import type { KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { TrustedKey, TrustedPeer } from '@tongban/trust';

/**
 * A trusted peer as the trust store holds it in memory, with every setting at the store's default
 * (active, everything allowed, no rate limit, any algorithm on the allow-list, notices allowed, no
 * keys) and `overrides` on top: the fixture of specs that stand in for the TrustStore.
 */
export function trustedPeer(code: string, overrides: Partial<TrustedPeer> = {}): TrustedPeer {
  return {
    code,
    name: code,
    endpoint: `gw-${code}:9000`,
    status: 'ACTIVE',
    allowedLicenceTypes: ['*'],
    allowedItems: ['*'],
    allowedRoles: ['*'],
    rateLimitPerSecond: null,
    allowedAlgs: null,
    allowNotices: true,
    keys: new Map(),
    ...overrides,
  };
}

/** A peer's key as the trust store holds it (added at the epoch, never retired). */
export function trustedKey(key: { kid: string; alg: string; publicKey: KeyObject; jwk?: object }, status: TrustedKey['status']): TrustedKey {
  return { kid: key.kid, alg: key.alg as TrustedKey['alg'], status, key: key.publicKey, jwk: (key.jwk ?? { kty: 'OKP' }) as JWK, addedAt: new Date(0), retiredAt: null, envelopesUntil: null };
}

/** The keys of a trusted peer, by kid. */
export function trustedKeys(keys: { key: { kid: string; alg: string; publicKey: KeyObject; jwk?: object }; status: TrustedKey['status'] }[]): Map<string, TrustedKey> {
  return new Map(keys.map(({ key, status }) => [key.kid, trustedKey(key, status)]));
}
