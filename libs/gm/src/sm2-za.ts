import { SM2_A, SM2_B, SM2_GX, SM2_GY, Sm2Point, sm3, toBytes32 } from './sm2-curve';
import { Sm2Error } from './sm2-error';

/** The default signer identity of GB/T 35276-2017 (and GM/T 0009), ASCII "1234567812345678". */
export const SM2_DEFAULT_SIGNER_ID: Buffer = Buffer.from('1234567812345678', 'ascii');

const CURVE = Buffer.concat([SM2_A, SM2_B, SM2_GX, SM2_GY].map(toBytes32));

/**
 * Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) of GB/T 32918.2-2016 §5.5, where ENTL_A is
 * the bit length of ID_A as two big-endian bytes.
 */
export function sm2Za(publicPoint: Sm2Point, signerId: Uint8Array = SM2_DEFAULT_SIGNER_ID): Buffer {
  if (signerId.length > 8191) throw new Sm2Error('SM2_SIGNER_ID_INVALID', `signer id: must be at most 8191 bytes (ENTL is 16 bits), got ${signerId.length}`);
  const entl = Buffer.alloc(2);
  entl.writeUInt16BE(signerId.length * 8);
  return sm3(entl, signerId, CURVE, publicPoint.x, publicPoint.y);
}

/** e = SM3(Z_A ‖ M), the value SM2 signs (GB/T 32918.2-2016 §6.1 steps A1–A2). */
export function sm2MessageDigest(za: Uint8Array, message: Uint8Array): Buffer {
  return sm3(za, message);
}
