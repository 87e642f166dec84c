import { join } from 'node:path';
import { LicenceSourceUnavailableError } from '../licence-source-unavailable';
import { FetchLike, LibraryClient } from './library-client';
import { LibraryLicenceLookup } from './library-licence-lookup';
import { loadLibraryMapping } from './library-mapping';

const mapping = loadLibraryMapping(join(__dirname, '..', '..', '..', '..', 'deploy', 'licence-library', 'stand-in-mapping.json'));
const ID = '1.2.156.3005.2.11100000000013338W009.111301020226975231.2023120385.001.H';
const ZZ = {
  ZZBS: ID,
  ZZLXDM: '11100000000013338W009',
  ZZMC: '营业执照',
  ZZBH: '冀营字2023120385',
  ZZBFJG: '石家庄市长安区市场监督管理局',
  ZZBFJGDM: '111301020226975231',
  CZZT: '石家庄启明演示科技有限公司',
  CZZTDM: '91130102011632775L',
  CZZTDMLX: '统一社会信用代码',
  ZZBFRQ: '20230512',
  YXQQSRQ: '20230512',
  YXQJZRQ: '长期',
  ZZZT: '有效',
  XZQHDM: '130102',
};

type Behaviour = 'ok' | 'down' | 'slow' | 'missing' | 'error';

/** The library as the port sees it: answers per `behaviour`, honouring the abort signal like fetch. */
function harness(ttlMs = 1000) {
  let now = 0;
  const seen: { url: string; headers: Record<string, string> }[] = [];
  const state = { behaviour: 'ok' as Behaviour, status: '有效' };
  const fetchFn: FetchLike = (url, init) => {
    seen.push({ url, headers: init.headers });
    const answer = (status: number, body: unknown) => Promise.resolve({ status, json: () => Promise.resolve(body) });
    switch (state.behaviour) {
      case 'ok':
        return answer(200, { code: 0, data: { ...ZZ, ZZZT: state.status } });
      case 'missing':
        return answer(404, { code: 404 });
      case 'error':
        return answer(500, { code: 500 });
      case 'down':
        return Promise.reject(new TypeError('fetch failed'));
      case 'slow':
        return new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    }
  };
  const client = new LibraryClient({ baseUrl: 'http://library.test', auth: { header: 'x-api-key', value: 'k'.repeat(20) }, timeoutMs: 50, breaker: { failures: 3, openMs: 5000 } }, fetchFn, () => now);
  const lookup = new LibraryLicenceLookup(client, mapping, { ttlMs, maxEntries: 2 }, () => now);
  return { lookup, client, seen, state, advance: (ms: number) => (now += ms) };
}

const failure = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(LicenceSourceUnavailableError);
  return (e as LicenceSourceUnavailableError).reason;
};

describe('LibraryLicenceLookup', () => {
  it('asks the library with the credential and the mapped request, and maps the answer', async () => {
    const h = harness();
    expect(await h.lookup.findById(ID)).toMatchObject({ licenceId: ID, status: 'VALID', holderCodeType: '001', validUntil: null });
    expect(await h.lookup.findByNumber(ZZ.ZZLXDM, ZZ.ZZBH)).toMatchObject({ licenceId: ID });
    expect(h.seen[0]).toMatchObject({ url: `http://library.test/dzzz/v1/zz/${encodeURIComponent(ID)}`, headers: { 'x-api-key': 'k'.repeat(20) } });
    expect(h.seen[1].url).toBe(`http://library.test/dzzz/v1/zz?ZZLXDM=${ZZ.ZZLXDM}&ZZBH=${encodeURIComponent(ZZ.ZZBH)}`);
  });

  it('404 is "not found" (not cached, not a failure)', async () => {
    const h = harness();
    h.state.behaviour = 'missing';
    for (let i = 0; i < 5; i++) expect(await h.lookup.findById(ID)).toBeNull();
    expect(h.seen).toHaveLength(5);
    expect(h.client.breaker.state()).toBe('closed');
  });

  it('answers from the cache within the ttl, and never past it: then the outage is an error', async () => {
    const h = harness(1000);
    await h.lookup.findById(ID);
    h.state.behaviour = 'down';
    h.advance(999);
    expect((await h.lookup.findById(ID))?.status).toBe('VALID');
    expect(h.seen).toHaveLength(1);
    h.advance(1);
    expect(await failure(h.lookup.findById(ID))).toBe('UNREACHABLE');
  });

  it('forget() drops what is cached about a licence (a change from the feed)', async () => {
    const h = harness(60_000);
    await h.lookup.findById(ID);
    h.state.status = '吊销';
    expect((await h.lookup.findById(ID))?.status).toBe('VALID');
    h.lookup.forget(ID);
    expect((await h.lookup.findById(ID))?.status).toBe('REVOKED');
  });

  it('a slow library times out after timeoutMs; an error status and a bad record are failures too', async () => {
    const h = harness(0);
    h.state.behaviour = 'slow';
    const started = Date.now();
    expect(await failure(h.lookup.findById(ID))).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1000);
    h.state.behaviour = 'error';
    expect(await failure(h.lookup.findById(ID))).toBe('HTTP_ERROR');
    h.state.behaviour = 'ok';
    h.state.status = '作废';
    expect(await failure(h.lookup.findById(ID))).toBe('BAD_ANSWER');
  });

  it('after N failures the breaker opens: no request reaches the library until one probe after openMs', async () => {
    const h = harness(0);
    h.state.behaviour = 'down';
    for (let i = 0; i < 3; i++) expect(await failure(h.lookup.findById(ID))).toBe('UNREACHABLE');
    expect(await failure(h.lookup.findById(ID))).toBe('CIRCUIT_OPEN');
    expect(h.seen).toHaveLength(3);
    h.state.behaviour = 'ok';
    h.advance(5000);
    expect((await h.lookup.findById(ID))?.status).toBe('VALID');
    expect(h.seen).toHaveLength(4);
    expect(h.client.breaker.state()).toBe('closed');
  });

  it('keeps at most maxEntries records, dropping the oldest', async () => {
    const h = harness(60_000);
    await h.lookup.findById(ID);
    await h.lookup.findByNumber(ZZ.ZZLXDM, ZZ.ZZBH);
    await h.lookup.findByNumber(ZZ.ZZLXDM, 'other');
    await h.lookup.findById(ID);
    expect(h.seen).toHaveLength(4);
  });
});
