import { mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway, GatewayOptions, TestPki, call, demoLicence, gatewayOptions, importDemoLicences, runCli, startGateway, verificationBody } from '@tongban/testkit';
import type { AuditBody, ErrorBody } from './support/bodies';
import { waitFor, waitForOutput } from './support/wait';
import { cliOk, directoryEntry, publishDirectory } from './support/directory';

// Two gateways that were never told about each other through the admin API learn each other from
// a directory signed by the national trust anchor, and keep working through a forged directory and
// an expired one. Here the anchor is a 国密 SM2 key and 河北 signs with SM2 (the Ed25519 anchor is
// the one of directory-tls.e2e-spec.ts): the directory carries 河北's SM2 key to 北京.
const BJ = '110000';
const HB = '130000';
const HOUR = 3600_000;

let dir: string;
let cli: GatewayOptions;
let gws: Record<string, Gateway>;
let serial = 0;
const anchorKey = () => join(dir, 'anchor.jwk');
const anchorPub = () => join(dir, 'anchor.pub.jwk');
const otherKey = () => join(dir, 'not-the-anchor.jwk');
const source = () => join(dir, 'directory.jws');

const admin = <T = unknown>(gw: Gateway, path: string) => call<T>(gw, 'GET', path, undefined, gw.adminToken);
const peers = async (gw: Gateway) => (await admin<{ peers: { code: string; endpoint: string; status: string; keys: { kid: string; status: string }[] }[] }>(gw, '/admin/peers')).body.peers;
/** GET /admin/directory (the fields these tests read; the rest is matched as a whole). */
type DirectoryStatus = { mode: string; serial: number | null; lastError: { reason: string } | null; [more: string]: unknown };
const directoryStatus = async (gw: Gateway) => (await admin<DirectoryStatus>(gw, '/admin/directory')).body;
const refusals = async (gw: Gateway) => (await admin<AuditBody>(gw, '/admin/audit?event=directory.refused&limit=1000')).body.events;
const health = async (gw: Gateway) => (await call<{ directory?: string }>(gw, 'GET', '/health')).body;

/** The directory JSON for both gateways as they are now (JWKS and gRPC endpoints). */
async function directoryFor(overrides: { endpoints?: Record<string, string>; times?: { issuedAt: string; notBefore: string; notAfter: string } } = {}) {
  const participants = [];
  // In directory mode a participant without tlsCa is refused over TLS: both are pinned to the test CA.
  const tlsCa = (await TestPki.get()).caPem;
  for (const gw of [gws[BJ], gws[HB]]) {
    participants.push(await directoryEntry(gw, gw.code === BJ ? '北京市' : '河北省', { endpoint: overrides.endpoints?.[gw.code] ?? gw.grpcEndpoint, tlsCa }));
  }
  return { format: 'tongban-directory/1', serial: ++serial, ...(overrides.times ?? {}), participants };
}

/** Signs with the CLI and publishes atomically at the source path the gateways read. */
async function publish(doc: { serial: number }, key = anchorKey()): Promise<void> {
  await publishDirectory(cli, doc, { dir, key, source: source() });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tongban-e2e-directory-'));
  const env = { TONGBAN_DIRECTORY_ANCHOR: anchorPub(), TONGBAN_DIRECTORY_SOURCE: source(), TONGBAN_DIRECTORY_REFRESH_S: '1' };
  const options = await Promise.all([BJ, HB].map((code) => gatewayOptions(code, { env: code === HB ? { ...env, TONGBAN_SIGNING_ALG: 'SM2SM3' } : env })));
  cli = options[0];
  // The key ceremony: the anchor key is generated offline; gateways get its public JWK only.
  const printed = JSON.parse(await cliOk(cli, ['directory', 'keygen', '--alg', 'SM2SM3', '--out', anchorKey(), '--public-out', anchorPub()])) as Record<string, unknown>;
  expect(printed).toEqual(JSON.parse(readFileSync(anchorPub(), 'utf8')));
  expect(printed).toMatchObject({ kty: 'EC', crv: 'SM2', alg: 'SM2SM3' });
  expect(printed.d).toBeUndefined();
  await cliOk(cli, ['directory', 'keygen', '--out', otherKey()]);
  await importDemoLicences(options[0]);
  // No directory exists yet: both start (directory degraded) and trust nobody.
  const list = await Promise.all(options.map(startGateway));
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

it('starts without a directory: degraded, no peers, the gateway serves anyway', async () => {
  for (const gw of Object.values(gws)) {
    expect(await directoryStatus(gw)).toMatchObject({ mode: 'degraded', serial: null, lastError: { reason: 'UNREACHABLE' } });
    expect((await call(gw, 'GET', '/health')).body).toMatchObject({ status: 'ok', directory: 'degraded' });
    expect(await peers(gw)).toEqual([]);
  }
  const r = await call(gws[HB], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')));
  expect(r.status).toBe(502);
});

it('bootstraps mutual trust from the signed directory; a cross-province verification works', async () => {
  await publish(await directoryFor());
  for (const [gw, other] of [
    [gws[BJ], gws[HB]],
    [gws[HB], gws[BJ]],
  ]) {
    const seen = await waitFor(
      `${gw.code} trusts ${other.code}`,
      () => peers(gw),
      (ps) => ps.some((p) => p.code === other.code),
    );
    expect(seen.find((p) => p.code === other.code)).toMatchObject({ endpoint: other.grpcEndpoint, status: 'ACTIVE', keys: [{ status: 'ACTIVE' }] });
    expect(await directoryStatus(gw)).toMatchObject({ mode: 'ok', serial: 1, lastError: null, participants: [{ code: BJ }, { code: HB }] });
    expect((await health(gw)).directory).toBe('ok');
  }
  const r = await call(gws[HB], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')));
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ status: 'VALID', issuer: { province: BJ } });
  // 北京 learnt 河北's key from the directory as an SM2SM3 key, and accepted 河北's SM2-signed request.
  expect((await peers(gws[BJ])).find((p) => p.code === HB)?.keys).toEqual([expect.objectContaining({ alg: 'SM2SM3' })]);
  const applied = (await admin<AuditBody>(gws[HB], '/admin/audit?event=directory.applied')).body.events;
  expect(applied).toEqual([expect.objectContaining({ subject: 'serial 1', outcome: 'OK' })]);
  // What national admins run before publishing.
  expect(await cliOk(cli, ['directory', 'verify', '--anchor', anchorPub(), source()])).toMatch(/serial\s+1[\s\S]*VALID now[\s\S]*110000[\s\S]*130000/);
});

it('refuses a directory signed by a key other than the anchor; trust is unchanged', async () => {
  const before = await peers(gws[HB]);
  await publish(await directoryFor({ endpoints: { [BJ]: 'attacker.example:9011' } }), otherKey());
  for (const gw of Object.values(gws)) {
    await waitFor(
      `${gw.code} refuses the forged directory`,
      () => refusals(gw),
      (es) => es.some((e) => e.reason === 'NOT_ANCHOR_KEY'),
    );
    expect(await directoryStatus(gw)).toMatchObject({ mode: 'ok', serial: 1, lastError: { reason: 'NOT_ANCHOR_KEY' } });
  }
  expect(await peers(gws[HB])).toEqual(before);
  const verify = await runCli(cli, ['directory', 'verify', '--anchor', anchorPub(), source()]);
  expect(verify.code).not.toBe(0);
  expect(verify.stderr).toMatch(/NOT_ANCHOR_KEY/);
  expect((await call(gws[HB], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')))).status).toBe(200);
});

it('a directory past its notAfter but within the grace period is used: degraded, and calls still work', async () => {
  const now = Date.now();
  const times = { issuedAt: new Date(now - 48 * HOUR).toISOString(), notBefore: new Date(now - 48 * HOUR).toISOString(), notAfter: new Date(now - HOUR).toISOString() };
  await publish(await directoryFor({ times }));
  for (const gw of Object.values(gws)) {
    const s = await waitFor(
      `${gw.code} uses serial ${serial}`,
      () => directoryStatus(gw),
      (v) => v.serial === serial,
    );
    expect(s).toMatchObject({ mode: 'degraded', notAfter: times.notAfter, graceUntil: new Date(Date.parse(times.notAfter) + 7 * 24 * HOUR).toISOString() });
    expect((await health(gw)).directory).toBe('degraded');
  }
  expect((await peers(gws[HB])).map((p) => p.code)).toEqual([BJ]);
  const r = await call(gws[HB], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')));
  expect(r.status).toBe(200);
});

it('a new directory with a changed endpoint is applied', async () => {
  const moved = `localhost:${gws[BJ].grpcPort}`;
  await publish(await directoryFor({ endpoints: { [BJ]: moved } }));
  const seen = await waitFor(
    '130000 sees the new endpoint of 110000',
    () => peers(gws[HB]),
    (ps) => ps.find((p) => p.code === BJ)?.endpoint === moved,
  );
  expect(seen.find((p) => p.code === BJ)).toMatchObject({ status: 'ACTIVE' });
  expect(await directoryStatus(gws[HB])).toMatchObject({ mode: 'ok', serial, lastError: null });
  const applied = (await admin<AuditBody>(gws[HB], '/admin/audit?event=directory.applied')).body.events;
  expect(applied.at(-1)).toMatchObject({ subject: `serial ${serial}` });
  const details = applied.at(-1)?.details;
  expect(typeof details === 'string' ? JSON.parse(details) : details).toMatchObject({ updated: BJ });
});

it('a restarted gateway keeps serving from the stored directory while the source is unreachable', async () => {
  const last = serial;
  renameSync(source(), join(dir, 'gone.jws'));
  await gws[HB].stop();
  gws[HB] = await startGateway(gws[HB].options);
  expect(await directoryStatus(gws[HB])).toMatchObject({ mode: 'ok', serial: last, lastError: { reason: 'UNREACHABLE' } });
  expect((await peers(gws[HB])).map((p) => p.code)).toEqual([BJ]);
  // The source comes back with the same directory: nothing to apply, the error clears.
  renameSync(join(dir, 'gone.jws'), source());
  await waitFor(
    'the error clears',
    () => directoryStatus(gws[HB]),
    (s) => s.lastError === null && s.serial === last,
  );
});

it('in directory mode a participant listed without tlsCa is refused over TLS, though its certificate is from a CA the gateway trusts', async () => {
  const doc = await directoryFor();
  delete (doc.participants.find((p) => p.code === HB) as { tlsCa?: string }).tlsCa;
  await publish(doc);
  for (const gw of Object.values(gws)) {
    await waitFor(
      `${gw.code} uses serial ${serial}`,
      () => directoryStatus(gw),
      (v) => v.serial === serial,
    );
  }
  await waitForOutput(gws[BJ], /directory serial \d+ lists no tlsCa for participant\(s\) 130000: in directory mode their TLS connections are refused/);
  // 河北 calls 北京: 北京 sees a certificate for 130000 from the shared test CA, which the directory does not pin for 130000.
  const r = await call(gws[HB], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')));
  expect(r.status).not.toBe(200);
  await waitForOutput(gws[BJ], /the federation directory lists no tlsCa for 130000: in directory mode an unpinned participant is refused/);
  // 北京 calls 河北: 北京 does not accept 河北's server certificate either.
  const back = await call<ErrorBody>(gws[BJ], 'POST', '/v1/verifications', verificationBody(demoLicence(HB, 'VALID')));
  expect({ status: back.status, body: back.body }).toMatchObject({ status: 503, body: { error: { code: 'ISSUER_UNREACHABLE' } } });
  const applied = (await admin<AuditBody>(gws[BJ], '/admin/audit?event=directory.applied')).body.events.at(-1)?.details;
  expect(typeof applied === 'string' ? JSON.parse(applied) : applied).toMatchObject({ unpinned: HB });
});
