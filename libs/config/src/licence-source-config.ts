import { resolve } from 'node:path';
import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * Settings of the licence source (docs/licence-library.md): the imported registry (default) or the
 * province's 电子证照 library over HTTP. Merged into the gateway's schema; env TONGBAN_LICENCE_*.
 */
export const licenceSourceShape = {
  licenceSource: z.enum(['registry', 'library']).default('registry'),
  licenceLibraryUrl: z
    .string()
    .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL')
    .optional(),
  // Sent as `<header>: Bearer <token>` for `authorization`, as the bare token for any other header (an API key).
  licenceLibraryAuthHeader: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name')
    .default('authorization'),
  licenceLibraryToken: z.string().min(16, 'must be at least 16 characters').optional(),
  licenceLibraryMappingFile: z.string().min(1).optional(),
  licenceLibraryTimeoutMs: int(50, 60_000).default(1000),
  licenceLibraryBreakerFailures: int(1, 1000).default(5),
  licenceLibraryBreakerOpenMs: int(100, 3_600_000).default(10_000),
  licenceLibraryCacheTtlS: int(0, 3600).default(30),
  licenceLibraryCacheMax: int(1, 1_000_000).default(10_000),
  licenceLibraryFeedPollMs: int(0, 3_600_000).default(5000),
  licenceLibraryFeedBatch: int(1, 1000).default(100),
};

type Raw = z.infer<z.ZodObject<typeof licenceSourceShape>> & { peerDeadlineMs: number };

/** Where the issuer side finds its licences. */
export type LicenceSourceSettings =
  | { kind: 'registry' }
  | {
      kind: 'library';
      baseUrl: string;
      /** Header name (lower case) and its full value, e.g. `authorization` / `Bearer …`. */
      auth: { header: string; value: string };
      mappingFile: string;
      /** Per request to the library; always below the peer deadline. */
      timeoutMs: number;
      /** Consecutive failures that open the breaker, and how long it stays open before one probe. */
      breaker: { failures: number; openMs: number };
      /** How long a record read from the library may answer again (0: never cached), and how many are kept. */
      cache: { ttlMs: number; maxEntries: number };
      /** Change feed: poll interval (0: off) and changes asked for per page. */
      feed: { pollMs: number; batch: number };
    };

/** Checks the licence source settings once; `fail(key, message)` throws the ConfigError naming the setting. */
export function licenceSourceSettings(r: Raw, fail: (key: string, message: string) => never): LicenceSourceSettings {
  if (r.licenceSource === 'registry') return { kind: 'registry' };
  if (!r.licenceLibraryUrl) fail('licenceLibraryUrl', 'required when licenceSource is library (the base URL of the province’s licence library)');
  if (!r.licenceLibraryToken) fail('licenceLibraryToken', 'required when licenceSource is library (the credential the library gave this gateway)');
  if (!r.licenceLibraryMappingFile) fail('licenceLibraryMappingFile', 'required when licenceSource is library (the JSON file mapping the library’s fields, docs/licence-library.md)');
  // A lookup that outlives the asker's deadline answers nobody: leave room to sign and send.
  if (r.licenceLibraryTimeoutMs > r.peerDeadlineMs - 100) fail('licenceLibraryTimeoutMs', `must be at least 100 ms below peerDeadlineMs (${r.peerDeadlineMs})`);
  const header = r.licenceLibraryAuthHeader.toLowerCase();
  return {
    kind: 'library',
    baseUrl: r.licenceLibraryUrl.replace(/\/+$/, ''),
    auth: { header, value: header === 'authorization' ? `Bearer ${r.licenceLibraryToken}` : r.licenceLibraryToken },
    mappingFile: resolve(r.licenceLibraryMappingFile),
    timeoutMs: r.licenceLibraryTimeoutMs,
    breaker: { failures: r.licenceLibraryBreakerFailures, openMs: r.licenceLibraryBreakerOpenMs },
    cache: { ttlMs: r.licenceLibraryCacheTtlS * 1000, maxEntries: r.licenceLibraryCacheMax },
    feed: { pollMs: r.licenceLibraryFeedPollMs, batch: r.licenceLibraryFeedBatch },
  };
}
