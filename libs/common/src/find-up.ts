import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Finds `relative` in this module's folder or the nearest ancestor that has it. Shipped data
 * files are found this way because the code runs both from `libs/` (jest) and `dist/apps/*`.
 */
export function findUp(relative: string, from: string = __dirname): string {
  let dir = from;
  for (;;) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${relative} not found above ${from}`);
    dir = parent;
  }
}
