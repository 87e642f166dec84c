import { ValidationException } from './domain.exception';

/** Where a value holds text that some backend cannot store, and why. */
export interface UnstorableText {
  /** Dotted path to the string (array indices as segments), or the prefix / `(body)` for the value itself. */
  field: string;
  /** Always `STORABLE_TEXT`: the rule named in VALIDATION_FAILED errors and refusals. */
  rule: 'STORABLE_TEXT';
  /** `field: must not contain …`, safe to show (never echoes the text). */
  message: string;
}

// PostgreSQL text cannot hold U+0000 at all, and a lone UTF-16 surrogate has no UTF-8 form (it is
// stored as U+FFFD by one driver and refused by another). One rule for every backend, checked
// where outside text enters, keeps a case that one gateway stores from poisoning its peers.
const NUL = '\u0000';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function problemOf(s: string): string | null {
  if (s.includes(NUL)) return 'must not contain the NUL character (U+0000)';
  if (LONE_SURROGATE.test(s)) return 'must not contain an unpaired UTF-16 surrogate (U+D800-U+DFFF)';
  return null;
}

/**
 * Finds the first string (value or object key, at any depth) that cannot be stored on every
 * backend: a NUL character or an unpaired surrogate. Walks plain objects and arrays (iteratively,
 * so deep input cannot overflow the stack); bytes, dates and other class instances are skipped.
 */
export function findUnstorableText(value: unknown, prefix = ''): UnstorableText | null {
  // Paths are linked lists (parent + segment), so deep input costs linear time, not quadratic.
  const stack: { v: unknown; path: Path }[] = [{ v: value, path: null }];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (typeof v === 'string') {
      const problem = problemOf(v);
      if (problem) return found(prefix, path, problem);
      continue;
    }
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: { up: path, key: String(i) } });
      continue;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) continue;
    const keys = Object.keys(v);
    for (const k of keys) {
      const problem = problemOf(k);
      if (problem) return found(prefix, path, `has a key that ${problem}`);
    }
    for (let i = keys.length - 1; i >= 0; i--) stack.push({ v: (v as Record<string, unknown>)[keys[i]], path: { up: path, key: keys[i] } });
  }
  return null;
}

/** Replaces each NUL and unpaired surrogate with U+FFFD: for text we must keep but did not choose (a peer's error text). */
export function toStorableText(s: string): string {
  return s.replaceAll('\u0000', '\uFFFD').replace(new RegExp(LONE_SURROGATE.source, 'g'), '\uFFFD');
}

/** Throws VALIDATION_FAILED (rule STORABLE_TEXT, naming the field) if `value` holds text no backend may store. */
export function assertStorableText(value: unknown, prefix = ''): void {
  const p = findUnstorableText(value, prefix);
  if (p) throw new ValidationException(p.field, p.rule, p.message);
}

type Path = { up: Path; key: string } | null;

function found(prefix: string, path: Path, problem: string): UnstorableText {
  const segments: string[] = [];
  for (let p = path; p; p = p.up) segments.push(p.key);
  const field = [prefix, ...segments.reverse()].filter(Boolean).join('.') || '(body)';
  return { field, rule: 'STORABLE_TEXT', message: `${field}: ${problem}` };
}
