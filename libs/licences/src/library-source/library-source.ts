import { Inject, Injectable } from '@nestjs/common';
import { LibraryClient } from './library-client';
import { LibraryLicenceLookup } from './library-licence-lookup';
import { LibraryMapping, loadLibraryMapping } from './library-mapping';

export const LIBRARY_SOURCE_OPTIONS = Symbol('LIBRARY_SOURCE_OPTIONS');

/** How the gateway reads the province's licence library (the typed config's `licenceSource`, kind `library`). */
export interface LibrarySourceOptions {
  baseUrl: string;
  auth: { header: string; value: string };
  mappingFile: string;
  timeoutMs: number;
  breaker: { failures: number; openMs: number };
  cache: { ttlMs: number; maxEntries: number };
  feed: { pollMs: number; batch: number };
}

/**
 * The province's licence library as this gateway's licence source: its mapping (checked at boot:
 * a bad file stops the start naming the field), one HTTP client with its circuit breaker, and the
 * lookup the issuer side uses. The change feed worker shares them.
 */
@Injectable()
export class LibrarySource {
  readonly mapping: LibraryMapping;
  readonly client: LibraryClient;
  readonly lookup: LibraryLicenceLookup;

  constructor(@Inject(LIBRARY_SOURCE_OPTIONS) readonly options: LibrarySourceOptions) {
    this.mapping = loadLibraryMapping(options.mappingFile);
    this.client = new LibraryClient(options);
    this.lookup = new LibraryLicenceLookup(this.client, this.mapping, options.cache);
  }
}
