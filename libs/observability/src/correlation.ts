import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** The HTTP header and gRPC metadata key that carries a correlation id between gateways. */
export const CORRELATION_HEADER = 'x-correlation-id';

const VALID = /^[A-Za-z0-9._-]{1,64}$/;
const storage = new AsyncLocalStorage<string>();

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

/** Runs `fn` with `id` as the current correlation id (kept across awaits). */
export function withCorrelationId<T>(id: string | undefined, fn: () => T): T {
  return id ? storage.run(id, fn) : fn();
}

/** The correlation id of the request being handled, if any. */
export function currentCorrelationId(): string | undefined {
  return storage.getStore();
}
