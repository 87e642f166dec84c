import { DomainException } from '@tongban/common';
import { LicenceQuery, LicenceResult } from '@tongban/proto';
import { MAX_BATCH } from './verification-request.schema';

/** Sends `queries` to `issuer` in one signed VerifyLicences call; results in query order. */
export type SendQueries = (issuer: string, queries: LicenceQuery[], correlationId: string | undefined) => Promise<LicenceResult[]>;

interface Waiting {
  query: LicenceQuery;
  resolve: (r: LicenceResult) => void;
  reject: (e: unknown) => void;
}
interface Group {
  waiting: Waiting[];
  /** The correlation id of the group's first request: one call carries one (protocol.md §2). */
  correlationId: string | undefined;
}

/**
 * The single verifications (POST /v1/verifications) to one issuer that arrive in the same turn of the
 * event loop leave in one signed VerifyLicences call of up to MAX_BATCH queries, as a batch request's
 * do (TONGBAN_VERIFY_COALESCE, docs/operations.md). Each request keeps its own query id, the issuer's
 * attestation and audit row for it, its own check and answer; only the envelope, its signature,
 * its replay-store entry and the transport's work are shared. Nothing waits for company: a group
 * leaves at the end of the turn it was opened in, so a lone request goes as before, alone.
 *
 * A failed call fails each of its requests with that error, as each would have failed alone (the
 * issuer unreachable, rate-limiting, suspended), except a call the issuer refused as malformed
 * (MALFORMED_PAYLOAD: the protocol refuses the whole call for one bad query, protocol.md §7.2):
 * then each query of a group is asked alone, so that one request the issuer judges malformed (a
 * peer whose rules differ from ours) cannot fail the others.
 */
export class IssuerCalls {
  private readonly open = new Map<string, Group>();

  constructor(private readonly send: SendQueries) {}

  /** The issuer's result for `query`, sent with the other queries to `issuer` of this turn. */
  ask(issuer: string, query: LicenceQuery, correlationId: string | undefined): Promise<LicenceResult> {
    let group = this.open.get(issuer);
    if (!group) {
      const opened: Group = { waiting: [], correlationId };
      this.open.set(issuer, (group = opened));
      setImmediate(() => this.flush(issuer, opened));
    }
    const joined = group;
    const answer = new Promise<LicenceResult>((resolve, reject) => joined.waiting.push({ query, resolve, reject }));
    // Full: it leaves as it is; the next request of this turn opens the next group.
    if (joined.waiting.length >= MAX_BATCH) this.open.delete(issuer);
    return answer;
  }

  private flush(issuer: string, group: Group): void {
    if (this.open.get(issuer) === group) this.open.delete(issuer);
    const { waiting, correlationId } = group;
    this.send(
      issuer,
      waiting.map((w) => w.query),
      correlationId,
    ).then(
      (results) => waiting.forEach((w, i) => w.resolve(results[i])),
      (e: unknown) => {
        if (waiting.length > 1 && refusedAsMalformed(e)) {
          for (const w of waiting) this.send(issuer, [w.query], correlationId).then(([r]) => w.resolve(r), w.reject);
        } else {
          for (const w of waiting) w.reject(e);
        }
      },
    );
  }
}

function refusedAsMalformed(e: unknown): boolean {
  return e instanceof DomainException && e.code === 'ISSUER_REJECTED' && e.details?.reason === 'MALFORMED_PAYLOAD';
}
