import { open } from 'node:fs/promises';
import type { ReadableStreamReadResult } from 'node:stream/web';
import { DIRECTORY_MAX_BYTES } from './directory-document';

/** Where the signed directory comes from. `read()` rejects with a plain message when it cannot. */
export abstract class DirectorySource {
  /** The file path or URL, for logs and the admin view. */
  abstract readonly location: string;
  abstract read(): Promise<string>;
}

/** Reads a local file or fetches an http(s) URL, bounded in time and size. */
export class FileOrUrlDirectorySource extends DirectorySource {
  constructor(
    readonly location: string,
    private readonly timeoutMs = 10_000,
    private readonly maxBytes = DIRECTORY_MAX_BYTES,
  ) {
    super();
  }

  read(): Promise<string> {
    return /^https?:\/\//i.test(this.location) ? this.fetchUrl() : this.readFile();
  }

  private async readFile(): Promise<string> {
    const file = await open(this.location, 'r').catch((e: NodeJS.ErrnoException) => {
      throw new Error(`${this.location}: ${e.code ?? e.message}`);
    });
    try {
      const { size } = await file.stat();
      if (size > this.maxBytes) throw new Error(`${this.location}: larger than ${this.maxBytes} bytes`);
      return await file.readFile({ encoding: 'utf8' });
    } finally {
      await file.close();
    }
  }

  private async fetchUrl(): Promise<string> {
    let res: Response;
    try {
      res = await fetch(this.location, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/jose, text/plain, */*' } });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      throw new Error(err.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : `${err.cause?.code ?? err.cause?.message ?? err.message}`);
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`HTTP ${res.status}`);
    }
    // Read at most maxBytes: a misbehaving server cannot fill the gateway's memory.
    const chunks: Buffer[] = [];
    let total = 0;
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = (await reader.read()) as ReadableStreamReadResult<Uint8Array>;
        if (done) break;
        total += value.byteLength;
        if (total > this.maxBytes) {
          await reader.cancel().catch(() => undefined);
          throw new Error(`larger than ${this.maxBytes} bytes`);
        }
        chunks.push(Buffer.from(value));
      }
    } catch (e) {
      const err = e as Error;
      throw new Error(err.name === 'TimeoutError' ? `no complete answer within ${this.timeoutMs} ms` : err.message);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}
