/** One table's rows from `COPY … FROM stdin` text: the header's columns, then each row's fields (null for \N). */
export interface CopyHeader {
  table: string;
  columns: string[];
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** Reads a `COPY [schema.]table (a, b) FROM stdin;` line, or undefined for any other line. */
export function parseCopyHeader(line: string): CopyHeader | undefined {
  const m = /^COPY (?:(?:"[^"]+"|[^ ."]+)\.)?("[^"]+"|[^ ."]+) \((.*)\) FROM stdin;$/.exec(line);
  if (!m) return undefined;
  const bare = (id: string) => id.trim().replace(/^"(.*)"$/, '$1');
  return { table: bare(m[1]), columns: m[2].split(',').map(bare) };
}

/**
 * The fields of one data line of PostgreSQL's COPY text format: tab-separated, `\N` for null,
 * backslash escapes (`\\`, `\t`, `\n`, …, octal `\123`, hex `\x41`) decoded.
 */
export function parseCopyRow(line: string): (string | null)[] {
  return line.split('\t').map((f) => (f === '\\N' ? null : f.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_, e: string) => unescape(e))));
}

function unescape(e: string): string {
  if (e[0] === 'x' && e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
  if (/^[0-7]+$/.test(e)) return String.fromCharCode(parseInt(e, 8));
  return ESCAPES[e] ?? e;
}
