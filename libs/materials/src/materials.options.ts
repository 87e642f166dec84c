/** Tuning of case materials. */
export interface MaterialsOptions {
  /** Largest file accepted, by upload or by PushMaterial (bytes). */
  maxBytes: number;
}

export const MATERIALS_OPTIONS = Symbol('MATERIALS_OPTIONS');

/** Media types a material may have (the upload's content-type). */
export const MATERIAL_MEDIA_TYPES = ['application/pdf', 'image/jpeg', 'image/png', 'application/octet-stream'] as const;

/** Bytes per stored chunk (one row of material_chunks, before base64). */
export const STORED_CHUNK_BYTES = 256 * 1024;

/** Largest chunk in a PushMaterial stream (protocol limit). */
export const STREAM_CHUNK_BYTES = 64 * 1024;

/** Material ids: UUIDs in practice; any 1–64 letters, digits and dashes from a peer. */
export const MATERIAL_ID = /^[A-Za-z0-9-]{1,64}$/;
