import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The protobuf package every gateway serves on its federation port. */
export const FEDERATION_PACKAGE = 'tongban.federation.v1';

/** Proto files (relative to protoRoot()) that define the federation service. */
export const FEDERATION_PROTO_FILES = ['tongban/federation/v1/federation.proto'];

let cached: string | undefined;

/**
 * The folder holding `tongban/…/*.proto`. Searched upward from this module because the
 * same code runs from `libs/` under jest and from a bundle under `dist/apps/*`.
 */
export function protoRoot(): string {
  if (cached) return cached;
  let dir = __dirname;
  for (;;) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'tongban', 'federation', 'v1', 'federation.proto'))) {
      cached = candidate;
      return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('proto/ folder not found above ' + __dirname);
    dir = parent;
  }
}
