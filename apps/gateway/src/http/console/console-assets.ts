import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';

/** One file of the built console, held in memory. */
export interface ConsoleAsset {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};
const MAX_FILE_BYTES = 16 * 1024 * 1024;
const MAX_FILES = 1000;

/**
 * Every response under /console: the policy of issue 13 (no inline script or style, nothing from
 * another origin, no framing), no MIME sniffing, no referrer.
 */
export const CONSOLE_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/**
 * The built console (dist/console, `npm run build`), read once at start: only the files found then
 * can be served, by their path relative to the folder, so no request path can reach another file.
 * `missing` tells why there is nothing to serve.
 */
export class ConsoleAssets {
  private readonly files = new Map<string, ConsoleAsset>();
  readonly missing: string | null;

  constructor(dir: string | null) {
    if (!dir) {
      this.missing = 'dist/console was not found: build the console with `npm run build`';
      return;
    }
    try {
      for (const file of walk(dir)) {
        const type = TYPES[extname(file).toLowerCase()];
        if (!type || statSync(file).size > MAX_FILE_BYTES || this.files.size >= MAX_FILES) continue;
        const body = readFileSync(file);
        this.files.set(relative(dir, file).split(sep).join('/'), { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
      }
    } catch (e) {
      this.missing = `${dir} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}): build the console with \`npm run build\``;
      return;
    }
    this.missing = this.files.has('index.html') ? null : `${dir} holds no index.html: build the console with \`npm run build\``;
  }

  /**
   * The file for `path` (relative to /console/): the file itself, index.html for a path without a
   * file extension (the console routes in the browser), undefined otherwise.
   */
  find(path: string): ConsoleAsset | undefined {
    const own = this.files.get(path);
    if (own) return own;
    const last = path.split('/').pop() ?? '';
    return extname(last) === '' ? this.files.get('index.html') : undefined;
  }
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}
