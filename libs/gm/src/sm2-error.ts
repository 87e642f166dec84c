/** Why an SM2 key, signature or signer identity was refused. */
export type Sm2ErrorCode =
  /** Not an SM2 public JWK: wrong `kty`/`crv`, or `x`/`y` not 32 bytes of base64url. */
  | 'SM2_JWK_INVALID'
  /** A public JWK that carries the private scalar `d`. */
  | 'SM2_JWK_PRIVATE'
  /** The JWK names an `alg` other than SM2SM3. */
  | 'SM2_ALG_MISMATCH'
  /** A coordinate is not below p, or the point does not satisfy y² = x³ + ax + b. */
  | 'SM2_POINT_NOT_ON_CURVE'
  /** The point at infinity (the identity), written as x = y = 0 or as the one-byte SEC 1 form. */
  | 'SM2_POINT_AT_INFINITY'
  /** A key that is not an SM2 key (another curve or type), or a private scalar out of [1, n-2]. */
  | 'SM2_KEY_INVALID'
  /** A signature that is not exactly 64 bytes (r‖s). */
  | 'SM2_SIGNATURE_LENGTH'
  /** r or s is 0 or not below the curve order n. */
  | 'SM2_SIGNATURE_RANGE'
  /** A DER signature (as OpenSSL writes it) that is not a strict SEQUENCE of two INTEGERs. */
  | 'SM2_SIGNATURE_DER'
  /** A signer identity longer than 8191 bytes (its bit length must fit ENTL's 16 bits). */
  | 'SM2_SIGNER_ID_INVALID'
  /** This Node/OpenSSL does not compute SM2 as GB/T 32918 does (known-answer test failed): nothing is signed or verified. */
  | 'SM2_SELF_TEST_FAILED'
  /** TONGBAN_SM2_NATIVE=required, but the tongban-sm2 addon (native/sm2) was not built or did not load. */
  | 'SM2_NATIVE_UNAVAILABLE';

/** Bad SM2 input; `code` is machine-readable, `message` names the field and the rule. */
export class Sm2Error extends Error {
  constructor(
    readonly code: Sm2ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'Sm2Error';
  }
}
