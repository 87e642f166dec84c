import { Readable } from 'node:stream';

/**
 * Reads a gRPC server request stream (a Readable in object mode, consumed with back-pressure) as an
 * async iterable whose next read fails once the caller has cancelled the call.
 */
export function readStream<T>(call: Readable & { once(event: 'cancelled', fn: () => void): unknown }): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const it = call[Symbol.asyncIterator]() as AsyncIterator<T>;
      let cancel: ((e: Error) => void) | undefined;
      const cancelled = new Promise<never>((_, reject) => (cancel = reject));
      cancelled.catch(() => undefined);
      call.once('cancelled', () => cancel?.(new Error('the caller cancelled the stream')));
      return { next: () => Promise.race([it.next(), cancelled]) };
    },
  };
}
