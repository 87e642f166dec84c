import { findUnstorableText } from '@tongban/common';
import { MaterialHeader } from '@tongban/proto';
import { MATERIAL_ID, MATERIAL_MEDIA_TYPES } from './materials.options';

/** A MaterialHeader that passed every rule of docs/protocol.md §13.1. */
export interface CheckedHeader {
  header: MaterialHeader;
  /** Material code (before the first `/` of `name`). */
  code: string;
  /** File name (after it). */
  name: string;
  size: number;
}

/** Why a header is refused; the receiver turns it into a RefusalException naming the sender. */
export class HeaderProblem extends Error {
  constructor(
    readonly code: 'MALFORMED_PAYLOAD' | 'PAYLOAD_TOO_LARGE',
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
  }
}

/** Decodes and checks the signed MaterialHeader payload; throws HeaderProblem. */
export function checkMaterialHeader(payload: Uint8Array, maxBytes: number): CheckedHeader {
  let h: MaterialHeader;
  try {
    h = MaterialHeader.decode(payload);
  } catch {
    throw new HeaderProblem('MALFORMED_PAYLOAD', 'payload is not a valid MaterialHeader');
  }
  const text = findUnstorableText(h);
  if (text) throw new HeaderProblem('MALFORMED_PAYLOAD', `STORABLE_TEXT: ${text.message}`);
  const size = Number(h.size);
  const slash = h.name.indexOf('/');
  const code = slash > 0 ? h.name.slice(0, slash) : '';
  const name = slash > 0 ? h.name.slice(slash + 1).trim() : '';
  if (!h.collaborationId || h.collaborationId.length > 64) throw new HeaderProblem('MALFORMED_PAYLOAD', 'collaboration_id must be 1-64 characters');
  if (!MATERIAL_ID.test(h.materialId)) throw new HeaderProblem('MALFORMED_PAYLOAD', 'material_id must be 1-64 letters, digits or dashes');
  if (!/^[0-9a-f]{64}$/.test(h.sha256)) throw new HeaderProblem('MALFORMED_PAYLOAD', 'sha256 must be 64 lower-case hex digits');
  if (!(MATERIAL_MEDIA_TYPES as readonly string[]).includes(h.mediaType)) throw new HeaderProblem('MALFORMED_PAYLOAD', `media_type must be one of ${MATERIAL_MEDIA_TYPES.join(', ')}`);
  // eslint-disable-next-line no-control-regex
  if (!/^[A-Z0-9_-]{1,60}$/.test(code) || !name || name.length > 150 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new HeaderProblem('MALFORMED_PAYLOAD', 'name must be <material code>/<file name> (code ≤ 60, file name 1-150 characters, no control characters)');
  }
  if (!Number.isSafeInteger(size) || size < 1) throw new HeaderProblem('MALFORMED_PAYLOAD', 'size must be at least 1');
  if (size > maxBytes) throw new HeaderProblem('PAYLOAD_TOO_LARGE', `material is ${size} bytes; the limit is ${maxBytes}`);
  return { header: h, code, name, size };
}
