import { DomainException } from '@tongban/common';
import { LicenceQuery, LicenceResult } from '@tongban/proto';
import { IssuerCalls } from './issuer-calls';

// What a call to an issuer carries is decided here; the issuer itself (PeerClient, envelopes, the
// gateway's answer) is exercised end to end by test/verification.e2e-spec.ts.
const query = (id: string, licenceType = '11100000000013338W009'): LicenceQuery => ({ queryId: id, licenceType, licenceNumber: '', licenceId: '', holder: undefined, purpose: 'p', notifyRef: '' });
const result = (q: LicenceQuery) => ({ queryId: q.queryId }) as LicenceResult;

/** A recorder standing in for the signed call: answers every query, or fails as `fail` says. */
function recorder(fail?: (queries: LicenceQuery[]) => Error | undefined) {
  const calls: { issuer: string; ids: string[]; correlationId: string | undefined }[] = [];
  const send = (issuer: string, queries: LicenceQuery[], correlationId: string | undefined) => {
    calls.push({ issuer, ids: queries.map((q) => q.queryId), correlationId });
    const e = fail?.(queries);
    return e ? Promise.reject(e) : Promise.resolve(queries.map(result));
  };
  return { calls, calls_: new IssuerCalls(send) };
}

const malformed = () => new DomainException('ISSUER_REJECTED', 'the gateway of 110000 rejected the request (MALFORMED_PAYLOAD)', { peer: '110000', reason: 'MALFORMED_PAYLOAD' });

describe('IssuerCalls', () => {
  it('sends the queries to one issuer of one turn in one call, in order, and answers each with its own result', async () => {
    const { calls, calls_ } = recorder();
    const answers = await Promise.all(['a', 'b', 'c'].map((id, i) => calls_.ask('110000', query(id), `corr-${i}`)));
    expect(answers.map((r) => r.queryId)).toEqual(['a', 'b', 'c']);
    expect(calls).toEqual([{ issuer: '110000', ids: ['a', 'b', 'c'], correlationId: 'corr-0' }]);
  });

  it('keeps issuers apart, and turns apart', async () => {
    const { calls, calls_ } = recorder();
    await Promise.all([calls_.ask('110000', query('a'), undefined), calls_.ask('130000', query('b'), undefined), calls_.ask('110000', query('c'), undefined)]);
    await calls_.ask('110000', query('d'), undefined);
    expect(calls.map((c) => `${c.issuer}:${c.ids.join(',')}`)).toEqual(['110000:a,c', '130000:b', '110000:d']);
  });

  it('a lone request goes alone, at the end of its turn', async () => {
    const { calls, calls_ } = recorder();
    const answer = calls_.ask('110000', query('only'), 'corr');
    expect(calls).toEqual([]); // not before the turn ends
    await expect(answer).resolves.toEqual({ queryId: 'only' });
    expect(calls).toEqual([{ issuer: '110000', ids: ['only'], correlationId: 'corr' }]);
  });

  it('never puts more than 100 queries in one call', async () => {
    const { calls, calls_ } = recorder();
    await Promise.all(Array.from({ length: 250 }, (_, i) => calls_.ask('110000', query(`q${i}`), undefined)));
    expect(calls.map((c) => c.ids.length)).toEqual([100, 100, 50]);
    expect(calls.flatMap((c) => c.ids)).toEqual(Array.from({ length: 250 }, (_, i) => `q${i}`));
  });

  it('a failed call fails each of its requests with that error, and is not repeated', async () => {
    const unreachable = new DomainException('ISSUER_UNREACHABLE', 'the gateway of 110000 did not answer in time', { peer: '110000' });
    const { calls, calls_ } = recorder(() => unreachable);
    const settled = await Promise.allSettled(['a', 'b'].map((id) => calls_.ask('110000', query(id), undefined)));
    expect(settled).toEqual([
      { status: 'rejected', reason: unreachable },
      { status: 'rejected', reason: unreachable },
    ]);
    expect(calls).toHaveLength(1);
  });

  it('a call refused as malformed is asked again query by query: one bad query does not fail the others', async () => {
    const { calls, calls_ } = recorder((queries) => (queries.some((q) => q.queryId === 'bad') ? malformed() : undefined));
    const settled = await Promise.allSettled(['a', 'bad', 'c'].map((id) => calls_.ask('110000', query(id), undefined)));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value.queryId : (s.reason as DomainException).details.reason))).toEqual(['a', 'MALFORMED_PAYLOAD', 'c']);
    expect(calls.map((c) => c.ids.join(','))).toEqual(['a,bad,c', 'a', 'bad', 'c']);
  });

  it('a lone query refused as malformed fails at once', async () => {
    const { calls, calls_ } = recorder(() => malformed());
    await expect(calls_.ask('110000', query('bad'), undefined)).rejects.toMatchObject({ details: { reason: 'MALFORMED_PAYLOAD' } });
    expect(calls).toHaveLength(1);
  });
});
