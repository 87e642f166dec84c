/**
 * Machine-readable error codes that cross the local HTTP API. Each transport maps them
 * in one table (see apps/gateway/src/http/http-error.filter.ts).
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'URI_TOO_LONG'
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'ISSUER_UNKNOWN'
  | 'ISSUER_UNREACHABLE'
  | 'ISSUER_REFUSED'
  | 'ISSUER_REJECTED'
  | 'ISSUER_RATE_LIMITED'
  | 'ISSUER_RESPONSE_INVALID'
  /** The issuer is up but its licence source (the province's library) cannot answer now: retry later. */
  | 'ISSUER_SOURCE_UNAVAILABLE'
  /** Our own database is unreachable or busy: retry after the `Retry-After` seconds (the reason says whether anything was stored). */
  | 'UNAVAILABLE'
  /** A cookie-authenticated (console) state change without the session's X-CSRF-Token. */
  | 'CSRF_TOKEN_INVALID'
  /** Too many attempts (console sign-in): retry after the `Retry-After` seconds. */
  | 'RATE_LIMITED'
  | 'INTERNAL';

/** A failure the caller can act on; `message` is safe to show (never holds personal data). */
export class DomainException extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** `location`: where a change that was stored can be read (UNAVAILABLE, DATABASE_READ_AFTER_COMMIT). */
    readonly details: { field?: string; rule?: string; reason?: string; peer?: string; location?: string; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'DomainException';
  }
}

/** Bad input: names the field and the rule it broke. */
export class ValidationException extends DomainException {
  constructor(field: string, rule: string, message: string) {
    super('VALIDATION_FAILED', message, { field, rule });
    this.name = 'ValidationException';
  }
}
