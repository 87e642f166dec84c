import type { Sm2Native } from '../../../native/sm2';
import { Sm2Error } from './sm2-error';

/** Where SM2 signatures are computed: Tongban's addon (native/sm2) or Node's OpenSSL. */
export type Sm2Implementation = 'native' | 'openssl';
/** The setting TONGBAN_SM2_NATIVE: use the addon if built (auto), insist on it (required), or not (off). */
export type Sm2NativeMode = 'auto' | 'required' | 'off';

// Node's "Cannot find module" message goes on with the require stack: the first line says it.
const firstLine = (e: Error) => String(e.message).split('\n')[0];

function load(): { addon: Sm2Native | null; error: string | null } {
  try {
    // A plain require, not an import: a checkout whose node_modules lacks the package (npm ci not
    // run since it was added) falls back to OpenSSL instead of failing to start.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('tongban-sm2') as typeof import('../../../native/sm2');
    return { addon: mod.sm2, error: mod.loadError ? firstLine(mod.loadError) : null };
  } catch (e) {
    return { addon: null, error: firstLine(e as Error) };
  }
}

const loaded = load();
let mode: Sm2NativeMode = 'auto';

/**
 * Chooses the SM2 implementation (once at boot, from TONGBAN_SM2_NATIVE; tests comparing both switch
 * it). `required` throws SM2_NATIVE_UNAVAILABLE when the addon did not load; `off` forces OpenSSL.
 */
export function setSm2NativeMode(next: Sm2NativeMode): void {
  if (next === 'required' && !loaded.addon) {
    throw new Sm2Error('SM2_NATIVE_UNAVAILABLE', `TONGBAN_SM2_NATIVE=required but the tongban-sm2 addon did not load (${loaded.error ?? 'unknown reason'}): run npm ci with a C toolchain`);
  }
  mode = next;
}

/** The implementation SM2 signing and verification use now. */
export function sm2Implementation(): Sm2Implementation {
  return loaded.addon && mode !== 'off' ? 'native' : 'openssl';
}

/** The addon when it is the active implementation, else null (for @tongban/gm and @tongban/keys only). */
export function sm2NativeAddon(): Sm2Native | null {
  return mode === 'off' ? null : loaded.addon;
}

/** The loaded addon whatever the mode, and why it did not load (tests comparing both implementations). */
export function sm2NativeLoadState(): { addon: Sm2Native | null; error: string | null } {
  return loaded;
}
