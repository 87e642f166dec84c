import { z } from 'zod';
import { ValidationException } from './domain.exception';
import { assertStorableText } from './storable-text';

/**
 * Parses untrusted input with a schema; the first problem becomes a ValidationException naming
 * the field (dotted path) and the rule. Custom refinements set the rule via `params.rule`. Every
 * string of the parsed value must also be storable on every backend (rule STORABLE_TEXT, see storable-text).
 */
export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown, prefix = ''): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) {
    assertStorableText(result.data, prefix);
    return result.data;
  }
  const issue = result.error.issues[0];
  const field = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(body)';
  const custom = (issue as { params?: { rule?: string } }).params?.rule;
  const missing = (issue.code === 'invalid_type' || issue.code === 'invalid_value') && valueAt(input, issue.path) === undefined;
  throw new ValidationException(field, custom ?? (missing ? 'REQUIRED' : ruleOf(issue)), `${field}: ${missing ? 'is required' : issue.message}`);
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function ruleOf(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return 'TYPE';
    case 'too_small':
      return 'TOO_SHORT';
    case 'too_big':
      return 'TOO_LONG';
    case 'invalid_format':
      return 'FORMAT';
    case 'invalid_value':
      return 'ONE_OF';
    case 'unrecognized_keys':
      return 'UNKNOWN_FIELD';
    default:
      return 'INVALID';
  }
}
