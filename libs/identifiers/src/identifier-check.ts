/**
 * Outcome of validating an identifier. Failures carry a machine rule code and an English
 * message; neither ever contains the input, because inputs may be personal ID numbers.
 */
export type IdentifierCheck = { ok: true; value: string } | { ok: false; rule: string; message: string };

/** Thrown by parse/derive helpers; carries the same rule code as the failed check, never the input. */
export class InvalidIdentifierError extends Error {
  readonly rule: string;

  constructor(rule: string, message: string) {
    super(message);
    this.name = 'InvalidIdentifierError';
    this.rule = rule;
  }
}

/** Builds a failed check result. */
export function fail(rule: string, message: string): IdentifierCheck {
  return { ok: false, rule, message };
}

/** Converts a failed check into an exception for APIs that return data rather than a check. */
export function throwIfInvalid(check: IdentifierCheck): string {
  if (!check.ok) throw new InvalidIdentifierError(check.rule, check.message);
  return check.value;
}
