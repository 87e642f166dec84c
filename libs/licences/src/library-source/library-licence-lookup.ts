import { Logger } from '@nestjs/common';
import { LicenceLookup } from '../licence-lookup';
import { LicenceRecord } from '../licence-record';
import { LicenceSourceUnavailableError } from '../licence-source-unavailable';
import { LibraryClient } from './library-client';
import { LibraryMapping, LibraryMappingError, libraryPath, mapLibraryRecord, pick } from './library-mapping';

interface Cached {
  record: LicenceRecord;
  until: number;
}

/**
 * LicenceLookup over the province's 电子证照 library (docs/licence-library.md): asks the library
 * through LibraryClient (timeout, circuit breaker), maps its answer to a LicenceRecord, and keeps
 * each record found for `ttlMs` so a short outage or a burst of queries costs no extra requests.
 * Past the ttl a record is never used: the query fails with LicenceSourceUnavailableError rather
 * than answer from knowledge older than the ttl. "Not found" is not cached.
 */
export class LibraryLicenceLookup extends LicenceLookup {
  private readonly logger = new Logger('LicenceLibrary');
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly client: LibraryClient,
    private readonly mapping: LibraryMapping,
    private readonly cacheOptions: { ttlMs: number; maxEntries: number },
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  async findById(licenceId: string): Promise<LicenceRecord | null> {
    return this.find(`id:${licenceId}`, libraryPath(this.mapping.lookup.byId, { licenceId }));
  }

  async findByNumber(typeCode: string, number: string): Promise<LicenceRecord | null> {
    return this.find(`no:${typeCode}:${number}`, libraryPath(this.mapping.lookup.byNumber, { typeCode, number }));
  }

  /** Forgets everything cached (a licence's status changed, at another replica: PostgreSQL topic `licences`). */
  forgetAll(): void {
    this.cache.clear();
  }

  /** Forgets what is cached about a licence (its status changed at the library). */
  forget(licenceId: string): void {
    for (const [key, c] of this.cache) if (c.record.licenceId === licenceId) this.cache.delete(key);
  }

  private async find(key: string, path: string): Promise<LicenceRecord | null> {
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.record;
    if (hit) this.cache.delete(key);
    const body = await this.client.get(path);
    if (body === null) return null;
    let record: LicenceRecord;
    try {
      record = mapLibraryRecord(pick(body, this.mapping.lookup.record), this.mapping);
    } catch (e) {
      if (!(e instanceof LibraryMappingError)) throw e;
      // The message names our field and the rule, never a value (it may hold an ID number).
      this.logger.warn(`a record from the licence library does not fit the mapping: ${e.message}`);
      throw new LicenceSourceUnavailableError('BAD_ANSWER', 'the licence library answered with a record that does not fit the mapping');
    }
    if (this.cacheOptions.ttlMs > 0) this.remember(key, record, now + this.cacheOptions.ttlMs);
    return record;
  }

  private remember(key: string, record: LicenceRecord, until: number): void {
    // Oldest first: a Map iterates in insertion order, and a refreshed entry is re-inserted.
    this.cache.delete(key);
    while (this.cache.size >= this.cacheOptions.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { record, until });
  }
}
