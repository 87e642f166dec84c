import { z } from 'zod';
import { SetMetadata } from '@nestjs/common';
import { ValidationException } from './domain.exception';
import { assertStorableText } from './storable-text';

const rule = (r: string, message: string) => ({ message, params: { rule: r } });

/**
 * Schemas for query parameters, whose values always arrive as text. Numbers are plain decimal
 * integers within bounds (no `Infinity`, `1e300`, `-1`, `0x10`, `abc`), lists are declared as such.
 */
export const QueryParam = {
  /** A decimal integer in [min, max]. */
  int: (min: number, max: number) =>
    z
      .string()
      .refine((v) => /^(0|[1-9][0-9]{0,15})$/.test(v), rule('INTEGER', 'must be a whole number written in decimal digits'))
      .transform(Number)
      .refine((n) => n >= min && n <= max, rule('RANGE', `must be between ${min} and ${max}`)),
  /** One of `values`. */
  oneOf: <T extends string>(values: readonly [T, ...T[]]) =>
    z.string().refine((v): v is T => (values as readonly string[]).includes(v), rule('ONE_OF', `must be one of ${values.join(', ')}`)) as unknown as z.ZodType<T, string>,
  /** Text matching `pattern` (which also bounds its length). */
  text: (pattern: RegExp, what: string) => z.string().refine((v) => pattern.test(v), rule('FORMAT', `must be ${what}`)),
  /** `true` or `false`. */
  bool: () =>
    z
      .string()
      .refine((v) => v === 'true' || v === 'false', rule('ONE_OF', 'must be true or false'))
      .transform((v) => v === 'true'),
  /** A list: the parameter may be repeated and each value may hold comma-separated items (at most `max`). */
  list: <T extends z.ZodType<unknown, string>>(item: T, max: number) => z.array(item).refine((a) => a.length <= max, rule('TOO_MANY', `at most ${max} values`)),
};

/** A query schema: the declared parameters only (anything else is refused as UNKNOWN_FIELD). */
export function querySchema<S extends z.ZodRawShape>(shape: S) {
  return z.object(shape).strict();
}

// Built once: constructing a zod schema costs far more than parsing with it (it showed as ~8 % of
// the asker's CPU per verification when this was built per request for every route without a query).
const NO_PARAMETERS = z.object({}).strict();

function isList(s: z.ZodType): boolean {
  let t: unknown = s;
  for (let i = 0; i < 8; i++) {
    if (t instanceof z.ZodArray) return true;
    if (t instanceof z.ZodOptional || t instanceof z.ZodDefault) t = t.unwrap();
    else return false;
  }
  return false;
}

/** A query string as the router parsed it: each key once, a repeated key as the list of its values. */
export type ParsedQuery = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * Checks the query the router parsed (`req.query`, the same object the handler would read) with a
 * query schema. A parameter given twice is refused (REPEATED) unless the schema declares it as a list;
 * an undeclared one is refused (UNKNOWN_FIELD); a bad value names the parameter and the rule. Without
 * a schema any parameter is refused.
 */
export function parseQuery<T extends z.ZodObject>(schema: T | undefined, query: ParsedQuery | undefined): z.infer<T> {
  const shape = (schema?.shape ?? {}) as Record<string, z.ZodType>;
  const values = new Map<string, readonly string[]>();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (!Object.prototype.hasOwnProperty.call(shape, key)) {
      throw new ValidationException(key.slice(0, 64), 'UNKNOWN_FIELD', `query parameter ${key.slice(0, 64)} is not accepted here`);
    }
    if (value !== undefined) values.set(key, typeof value === 'string' ? [value] : value);
  }
  const input: Record<string, string | string[]> = {};
  for (const [key, list] of values) {
    if (isList(shape[key])) input[key] = list.flatMap((v) => v.split(','));
    else if (list.length > 1) throw new ValidationException(key, 'REPEATED', `query parameter ${key} is given ${list.length} times; give it once`);
    else input[key] = list[0];
  }
  assertStorableText(input);
  const result = (schema ?? NO_PARAMETERS).safeParse(input);
  if (result.success) return result.data as z.infer<T>;
  const issue = result.error.issues[0];
  const field = issue.path.map(String).filter((p) => !/^\d+$/.test(p))[0] ?? '(query)';
  const custom = (issue as { params?: { rule?: string } }).params?.rule;
  const missing = input[field] === undefined;
  throw new ValidationException(field, custom ?? (missing ? 'REQUIRED' : 'INVALID'), `query parameter ${field}: ${missing ? 'is required' : issue.message}`);
}

/** Handler metadata key of a query schema. */
export const QUERY_SCHEMA_METADATA = 'tongban:query-schema';

/**
 * Declares the query parameters a route handler accepts (a `querySchema`): the gateway parses the
 * query string with it before the handler runs, and `@Query()` then holds the parsed values. A route
 * without one accepts no query parameter, and a handler that reads `@Query()` without one stops boot.
 */
export const ValidQuery = (schema: z.ZodObject): MethodDecorator => SetMetadata(QUERY_SCHEMA_METADATA, schema);
