/** Why the licence source could not answer (docs/licence-library.md §4). */
export type SourceFailure = 'TIMEOUT' | 'UNREACHABLE' | 'HTTP_ERROR' | 'CIRCUIT_OPEN' | 'BAD_ANSWER';

/**
 * The licence source (the province's library) cannot answer now. The issuer answers the query with
 * the per-item refusal ISSUER_SOURCE_UNAVAILABLE (docs/protocol.md §7.4), never with a guess.
 */
export class LicenceSourceUnavailableError extends Error {
  constructor(
    readonly reason: SourceFailure,
    message: string,
  ) {
    super(message);
    this.name = 'LicenceSourceUnavailableError';
  }
}
