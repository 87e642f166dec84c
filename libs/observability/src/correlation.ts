import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';

/** The HTTP header and gRPC metadata key that carries a correlation id between gateways. */
export const CORRELATION_HEADER = 'x-correlation-id';

const VALID = /^[A-Za-z0-9._-]{1,64}$/;

/** True for an id we accept from outside: 1–64 characters of [A-Za-z0-9._-]. */
export function isValidCorrelationId(value: unknown): value is string {
  return typeof value === 'string' && VALID.test(value);
}

/** The presented id when it is valid, else a new one (a repeated or malformed header is not trusted). */
export function acceptCorrelationId(value: unknown): string {
  return isValidCorrelationId(value) ? value : randomUUID();
}

/**
 * The correlation id a peer sent in gRPC metadata, if well-formed. A peer's malformed id is dropped,
 * not repaired: it is not ours to rename.
 */
export function correlationIdOfMetadata(metadata: { get(key: string): unknown[] } | undefined): string | undefined {
  const id = metadata?.get?.(CORRELATION_HEADER)?.[0];
  return isValidCorrelationId(id) ? id : undefined;
}

/**
 * A log line of the request `correlationId` belongs to. The id is passed by whoever logs, never read
 * from async context (no AsyncLocalStorage on the request path: its hooks cost every promise of the
 * process). Every format prints the text followed by ` (correlation id …)`; GatewayLogger's JSON
 * lines also carry it in their `correlationId` field.
 */
export class CorrelatedLine {
  constructor(
    readonly text: string,
    readonly correlationId: string | undefined,
  ) {}

  toString(): string {
    return this.correlationId ? `${this.text} (correlation id ${this.correlationId})` : this.text;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** `text` as a log line of the request `correlationId` (see CorrelatedLine); plain text when there is no id. */
export function correlated(text: string, correlationId: string | null | undefined): CorrelatedLine | string {
  return correlationId ? new CorrelatedLine(text, correlationId) : text;
}
