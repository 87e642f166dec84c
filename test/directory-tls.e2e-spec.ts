import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetJwksPayload } from '@tongban/proto';
import { FakePeer, Gateway, GatewayOptions, TestPki, call, demoLicence, gatewayOptions, importDemoLicences, startGateway, verificationBody } from '@tongban/testkit';
import { cliOk, directoryEntry, publishDirectory } from './support/directory';
import { waitFor, waitForOutput } from './support/wait';

// Two provinces with CAs of their own: each gateway's TONGBAN_TLS_CA holds only its own CA, so
// they cannot even shake hands until the anchor-signed directory publishes each participant's TLS
// CA (`tlsCa`). The listed CA is then pinned: another CA that the gateway trusts cannot issue a
// certificate that speaks for that participant.
const BJ = '110000';
const HB = '130000';

let dir: string;
let gws: Record<string, Gateway>;
let options: GatewayOptions[];
let pkiBj: TestPki;
let pkiHb: TestPki;

const source = () => join(dir, 'directory.jws');

async function publish(serial: number): Promise<void> {
  const participants = [await directoryEntry(gws[BJ], '北京市', { tlsCa: pkiBj.caPem }), await directoryEntry(gws[HB], '河北省', { tlsCa: pkiHb.caPem })];
  await publishDirectory(options[0], { format: 'tongban-directory/1', serial, participants } as { serial: number }, { dir, key: join(dir, 'anchor.jwk'), source: source() });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tongban-e2e-directory-tls-'));
  pkiBj = await TestPki.get();
  pkiHb = await pkiBj.other();
  const env = { TONGBAN_DIRECTORY_ANCHOR: join(dir, 'anchor.pub.jwk'), TONGBAN_DIRECTORY_SOURCE: source(), TONGBAN_DIRECTORY_REFRESH_S: '1' };
  options = [await gatewayOptions(BJ, { env, tls: await pkiBj.filesFor(BJ) }), await gatewayOptions(HB, { env, tls: await pkiHb.filesFor(HB) })];
  await cliOk(options[0], ['directory', 'keygen', '--out', join(dir, 'anchor.jwk'), '--public-out', join(dir, 'anchor.pub.jwk')]);
  await importDemoLicences(options[0]);
  const list = await Promise.all(options.map(startGateway));
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

it('each gateway starts trusting only its own CA', async () => {
  expect((await call<{ trustedCas: string[] }>(gws[BJ], 'GET', '/admin/tls', undefined, gws[BJ].adminToken)).body.trustedCas).toEqual([expect.stringMatching(/Tongban test CA/)]);
  expect((await call<{ trustedCas: string[] }>(gws[HB], 'GET', '/admin/tls', undefined, gws[HB].adminToken)).body.trustedCas).toEqual([expect.stringMatching(/Untrusted test CA/)]);
  expect(readFileSync(options[1].tls!.caFile, 'utf8')).not.toContain(pkiBj.caPem.trim().split('\n')[1]);
});

it('learns the other province CA from the directory and verifies across the two CAs', async () => {
  await publish(1);
  for (const gw of Object.values(gws)) {
    await waitFor(
      `${gw.code} trusts both CAs`,
      async () => (await call<{ trustedCas: string[] }>(gw, 'GET', '/admin/tls', undefined, gw.adminToken)).body.trustedCas,
      (cas: string[]) => cas?.length === 2,
    );
  }
  const r = await call(gws[HB], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')));
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ status: 'VALID', issuer: { province: BJ } });
});

it('pins the listed CA: a certificate for 130000 from 北京 own CA (which 北京 trusts) cannot speak for 河北', async () => {
  // Somebody with access to 北京's CA mints a certificate naming 河北 and sends a message as 河北.
  const forger = await FakePeer.create(HB);
  const env = forger.craft({ aud: BJ, mty: 'tongban.federation.v1.GetJwksPayload', payload: GetJwksPayload.encode({}).finish() });
  const res = await FakePeer.send(gws[BJ].grpcEndpoint, 'getJwks', env, HB);
  expect({ code: res.code, refusal: res.refusal }).toEqual({ code: 7, refusal: 'TLS_IDENTITY_MISMATCH' });
  expect(res.details).toMatch(/not issued by the CA the directory lists/);
  await waitForOutput(gws[BJ], /TLS certificate for 130000 .* is not issued by the CA the federation directory lists for 130000/);
  // The real 河北 still gets through.
  expect((await call(gws[HB], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')))).status).toBe(200);
});
