/** Opaque handle of an SM2 private key inside the addon: (1 + d)^-1 mod n, zeroed when collected. */
export interface Sm2PrivateHandle {
  readonly __brand: 'tongban-sm2-private';
}
/** Opaque handle of a checked SM2 public point, with its comb table once it has verified once. */
export interface Sm2PublicHandle {
  readonly __brand: 'tongban-sm2-public';
}

export interface Sm2Native {
  /** Handle of the private scalar d (32 bytes, big-endian); throws RangeError unless d is in [1, n-2]. */
  privateKey(d: Uint8Array): Sm2PrivateHandle;
  /** r‖s for e = SM3(Z_A ‖ M) and nonce k in [1, n-1]; null when k gives r = 0, r + k = n or s = 0 (or is out of range): draw another. */
  sign(key: Sm2PrivateHandle, e: Uint8Array, k: Uint8Array): Buffer | null;
  /** Handle of the affine point (x, y); null when it is not a point of the curve (or a coordinate is not below p). */
  publicKey(x: Uint8Array, y: Uint8Array): Sm2PublicHandle | null;
  /** GB/T 32918.2 §7.1 verification given e; false also for r or s outside [1, n-1]. */
  verify(key: Sm2PublicHandle, e: Uint8Array, signature: Uint8Array): boolean;
  /** Test-only entry points to the point operations (points: 64 bytes x‖y, null = infinity). */
  __test: {
    add: (p: Uint8Array | null, q: Uint8Array | null) => Buffer | null;
    maddChecked: (p: Uint8Array | null, q: Uint8Array) => Buffer | null;
    mulG: (k: Uint8Array) => Buffer | null;
    combine: (key: Sm2PublicHandle, s: Uint8Array, t: Uint8Array) => Buffer | null;
  };
}

/** The addon, or null when it was not built or failed to load. */
export declare const sm2: Sm2Native | null;
/** Why the addon did not load (null when it did). */
export declare const loadError: Error | null;
