import { join } from 'node:path';
import {
  DemoLicence,
  Gateway,
  ROOT,
  StandInLibrary,
  call,
  connectAll,
  demoLicences,
  gatewayOptions,
  importDemoLicences,
  librarySourceEnv,
  newLibraryTokens,
  setLibraryStatus,
  startGateway,
  startLicenceLibrary,
  verificationBody,
} from '@tongban/testkit';
import type { VerificationResult } from '@tongban/verification';
import type { ErrorBody, LicenceStatusChangedWebhook } from './support/bodies';
import { waitFor } from './support/wait';
import { RECEIVER_ENV, WebhookReceiver, signatureValid } from './support/webhook-receiver';

// 北京 answers from the STAND-IN licence library (apps/licence-library, its own process with its own
// field names, mapped by deploy/licence-library/stand-in-mapping.json) over HTTP, not from an imported
// registry: 北京's own registry is left EMPTY, so every VALID answer below came from the library. 广东
// and 河北 ask over signed gRPC (mutual TLS); their local systems have webhook receivers in this test
// process. docs/licence-library.md.
const BJ = '110000';
const GD = '440000';
const HB = '130000';
const TOKENS = newLibraryTokens();
const SEED = join(ROOT, 'deploy', 'demo', `licences-${BJ}.json`);
const SECRET = 'library-e2e-webhook-secret-0123';

let library: StandInLibrary | undefined;
let gws: Record<string, Gateway>;
let receiver: WebhookReceiver<LicenceStatusChangedWebhook>;

const startLibrary = async (port = 0, delayMs = 0) => (library = await startLicenceLibrary({ ...TOKENS, seed: SEED, port, delayMs }));
async function stopLibrary(): Promise<void> {
  const running = library;
  library = undefined;
  await running?.stop();
}

const ask = (l: DemoLicence) => call<VerificationResult & ErrorBody>(gws[GD], 'POST', '/v1/verifications', verificationBody(l));
const validOnes = () => demoLicences(BJ).filter((l) => l.status === 'VALID' && (!l.validUntil || l.validUntil >= '2027-01-01'));

beforeAll(async () => {
  receiver = await WebhookReceiver.start<LicenceStatusChangedWebhook>();
  const lib = await startLibrary();
  const bj = await gatewayOptions(BJ, {
    env: {
      ...RECEIVER_ENV,
      ...librarySourceEnv(lib),
      TONGBAN_LICENCE_LIBRARY_TIMEOUT_MS: '1000',
      TONGBAN_LICENCE_LIBRARY_FEED_POLL_MS: '200',
      // A high threshold: each failure below is the library's own (timeout, refused), not an open breaker.
      TONGBAN_LICENCE_LIBRARY_BREAKER_FAILURES: '100',
    },
  });
  const askers = await Promise.all([GD, HB].map((code) => gatewayOptions(code, { env: RECEIVER_ENV })));
  await Promise.all(askers.map(importDemoLicences)); // 北京's registry stays empty on purpose
  const list = await Promise.all([bj, ...askers].map(startGateway));
  await connectAll(list);
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
  for (const code of [GD, HB]) {
    const r = await call(gws[code], 'POST', '/v1/webhooks', { url: `${receiver.base}/${code}`, events: ['*'], secret: SECRET });
    expect(r.status).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
  await stopLibrary();
  await receiver?.close();
});

it('a licence that exists only in the library is verified VALID across provinces, with an attestation', async () => {
  const l = validOnes()[0];
  const r = await ask(l);
  expect(r.status).toBe(200);
  expect(r.body.status).toBe('VALID');
  expect(r.body.attestation).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
});

it("北京 started with the library as its source takes the library's current statuses from its full listing: a licence the library holds SUSPENDED or REVOKED is so in 北京's status table", async () => {
  for (const status of ['SUSPENDED', 'REVOKED']) {
    const l = demoLicences(BJ).find((x) => x.status === status)!;
    const current = await waitFor(
      `北京's status of the library's ${status} licence`,
      () => call<{ status: string; version: number }>(gws[BJ], 'GET', `/admin/licences/${encodeURIComponent(l.licenceId)}/status`, undefined, gws[BJ].adminToken).then((x) => x.body),
      (s) => s?.version === 1,
    );
    expect(current.status).toBe(status);
    // The status list follows the status table: 广东 checks a fresh attestation of it against 北京's list.
    const answer = await ask(l);
    expect(answer.body.status).toBe(status);
    const checked = await call<{ valid: boolean; currentStatus?: { status: string } }>(gws[GD], 'POST', '/v1/attestations/verify', { attestation: answer.body.attestation });
    expect(checked.body).toMatchObject({ valid: true, currentStatus: { status } });
  }
  const synced = await call<{ events: { actor: string; subject: string }[] }>(gws[BJ], 'GET', '/admin/audit?event=licence.status_changed&limit=1000', undefined, gws[BJ].adminToken);
  expect(synced.body.events.filter((e) => e.actor === 'library-sync')).toHaveLength(2);
});

it("a status change made in the library reaches 北京's status (the change feed) and the next answer", async () => {
  const l = validOnes()[1];
  expect((await ask(l)).body.status).toBe('VALID');
  expect(await setLibraryStatus(library!, l.licenceId, '中止', '年检未通过')).toBe(200);
  const status = await waitFor(
    "北京's status of the licence follows the library's feed",
    () => call<{ status: string; version: number }>(gws[BJ], 'GET', `/admin/licences/${encodeURIComponent(l.licenceId)}/status`, undefined, gws[BJ].adminToken).then((x) => x.body),
    (s) => s?.status === 'SUSPENDED',
  );
  expect(status.version).toBeGreaterThanOrEqual(1);
  expect((await ask(l)).body.status).toBe('SUSPENDED');
});

it('a status change made IN the library reaches the webhook of 广东, which verified with notify: true, within 5 s and signed; 河北, which did not subscribe, gets nothing', async () => {
  const l = validOnes()[4];
  const gd = await call<VerificationResult & { notify?: { subscriptionId: string; outcome: string } }>(gws[GD], 'POST', '/v1/verifications', verificationBody(l, { notify: true }));
  expect(gd.body).toMatchObject({ status: 'VALID', notify: { outcome: 'ACCEPTED' } });
  expect((await call<VerificationResult>(gws[HB], 'POST', '/v1/verifications', verificationBody(l))).body.status).toBe('VALID');

  const started = Date.now();
  const hook = receiver.next(`/${GD}`, (h) => h.body.licenceId === l.licenceId, 5000);
  expect(await setLibraryStatus(library!, l.licenceId, '吊销', '违法经营被吊销')).toBe(200);
  const got = await hook;
  expect(Date.now() - started).toBeLessThan(5000);
  expect(signatureValid(SECRET, got.signature, got.raw)).toBe(true);
  expect(got.body).toMatchObject({
    type: 'licence.status.changed',
    subscriptionId: gd.body.notify!.subscriptionId,
    issuerProvince: BJ,
    licenceId: l.licenceId,
    status: 'REVOKED',
    previous: 'VALID',
    version: 1,
    reason: '违法经营被吊销',
  });
  // The notice arrived at 广东; by then 北京 had sent everything it was going to send for this change.
  // 河北 verified the same licence without notify: its receiver got nothing and its gateway applied nothing.
  const sent = await waitFor(
    '北京 audits the notice',
    () => call<{ events: { subject: string; details: string }[] }>(gws[BJ], 'GET', '/admin/audit?event=licence.notice.sent&limit=1000', undefined, gws[BJ].adminToken),
    (r) => r.body.events.some((e) => e.subject === l.licenceId),
  );
  expect(sent.body.events.filter((e) => e.subject === l.licenceId).map((e) => JSON.parse(e.details) as unknown)).toEqual([{ peer: GD, version: 1 }]);
  expect(receiver.at(`/${HB}`)).toEqual([]);
  expect((await call<{ events: unknown[] }>(gws[HB], 'GET', '/admin/audit?event=licence.notice.received', undefined, gws[HB].adminToken)).body.events).toEqual([]);
  expect((await ask(l)).body.status).toBe('REVOKED');
});

it('library slow → ISSUER_SOURCE_UNAVAILABLE inside the deadline (never VALID); library down → the same', async () => {
  const port = library!.port;
  await stopLibrary();
  // Slow: every lookup answers 2.5 s late, past 北京's 1 s library timeout but inside 广东's 3 s deadline.
  await startLibrary(port, 2500);
  const slow = await ask(validOnes()[2]); // not cached by 北京
  expect(slow.status).toBe(503);
  expect(slow.body.error.code).toBe('ISSUER_SOURCE_UNAVAILABLE');
  await stopLibrary();
  // Down: nothing listens.
  const down = await ask(validOnes()[3]);
  expect(down.status).toBe(503);
  expect(down.body.error.code).toBe('ISSUER_SOURCE_UNAVAILABLE');
});
