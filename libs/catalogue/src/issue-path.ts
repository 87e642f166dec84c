import { z } from 'zod';
import { CatalogueError } from './catalogue-error';

type Segment = PropertyKey;

/**
 * Renders a zod path as an administrator reads it: `items[HUKOU_SPOUSE].steps[1].role`. Items are
 * named by their code when it is a usable code, since indices shift whenever someone edits the file.
 */
export function renderPath(path: readonly Segment[], raw: unknown): string {
  let out = '';
  path.forEach((seg, i) => {
    if (typeof seg === 'number') {
      const code = i === 1 && path[0] === 'items' ? itemCodeAt(raw, seg) : undefined;
      out += `[${code ?? seg}]`;
    } else {
      out += (out ? '.' : '') + String(seg);
    }
  });
  return out;
}

/** Turns the first zod issue into a CatalogueError whose path names the field. */
export function toCatalogueError(error: z.ZodError, raw: unknown, root: string): CatalogueError {
  const issue = error.issues[0];
  const path: Segment[] = [...issue.path];
  // zod reports an unknown key at its parent; pointing at the key itself is what helps fix a typo.
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) path.push(issue.keys[0]);
  return new CatalogueError(renderPath(path, raw) || root, issue.message);
}

const ITEM_CODE = /^[A-Z0-9_-]{2,40}$/;

function itemCodeAt(raw: unknown, index: number): string | undefined {
  const items = (raw as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) return undefined;
  const code = (items[index] as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ITEM_CODE.test(code) ? code : undefined;
}
