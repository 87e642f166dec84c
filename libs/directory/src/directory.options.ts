/** Configuration of directory mode; `enabled: false` unless both the anchor and the source are set. */
export type DirectoryOptions =
  | { enabled: false }
  | {
      enabled: true;
      /** The trust anchor's PUBLIC JWK (Ed25519 or SM2), or a JWK Set of up to 3 during a rollover. */
      anchorJwk: Record<string, unknown>;
      /** File path or http(s) URL of the signed directory (`.jws`). */
      source: string;
      refreshSeconds: number;
      /** How long an expired directory is still used (status `degraded`). */
      graceSeconds: number;
      /** Tolerance for notBefore (clocks of the signer and the gateway differ). */
      clockSkewSeconds: number;
      /** Bound of one fetch of a URL (default 10 s). */
      fetchTimeoutMs?: number;
    };

export const DIRECTORY_OPTIONS = Symbol('DIRECTORY_OPTIONS');
