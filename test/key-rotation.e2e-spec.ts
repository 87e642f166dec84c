import { Gateway, call, demoLicence, startFederation, verificationBody } from '@tongban/testkit';
import type { AuditBody, VerificationResultBody } from './support/bodies';
import { deliveredOn, runHukouTransfer } from './support/hukou-case';
import { waitFor } from './support/wait';

// Own-key rotation and revocation propagated to peers through the reliable delivery path, while
// verifications keep running: no call may fail.
const BJ = '110000';
const HB = '130000';
const GD = '440000';
const FAST = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '400', TONGBAN_DELIVERY_POLL_MS: '100' };

let gws: Record<string, Gateway>;
type Key = { kid: string; status: string };
const keysOf = async (gw: Gateway) => (await call<{ keys: Key[] }>(gw, 'GET', '/admin/keys', undefined, gw.adminToken)).body.keys;
const peerKeys = async (gw: Gateway, code: string) => (await call<{ keys: Key[] }>(gw, 'GET', `/admin/peers/${code}`, undefined, gw.adminToken)).body.keys;

beforeAll(async () => {
  const list = await startFederation([BJ, HB, GD], { env: FAST });
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

/** Runs verifications 广东→北京 and 河北→北京 until stopped; returns every status seen. */
function load() {
  let stop = false;
  const statuses: number[] = [];
  const body = verificationBody(demoLicence(BJ, 'VALID'));
  const run = (async () => {
    while (!stop) {
      const rs = await Promise.all([call(gws[GD], 'POST', '/v1/verifications', body), call(gws[HB], 'POST', '/v1/verifications', body)]);
      for (const r of rs) statuses.push(r.status);
    }
  })();
  return { statuses, stop: async () => ((stop = true), await run, statuses) };
}

it('a rotation with an overlap propagates and switches signing with zero failed calls under load', async () => {
  const [old] = (await keysOf(gws[BJ])).filter((k) => k.status === 'ACTIVE');
  const attestation = (await call<VerificationResultBody>(gws[GD], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')))).body.attestation;
  const traffic = load();
  const rotated = await call<{ keys: Key[] }>(gws[BJ], 'POST', '/admin/keys/rotate', { overlapHours: 0.001 }, gws[BJ].adminToken);
  expect(rotated.status).toBe(200);
  const next = rotated.body.keys.find((k) => k.status === 'NEXT')!;
  expect(next).toBeTruthy();
  // Peers learn the new key before it signs anything.
  for (const peer of [HB, GD])
    await waitFor(
      `${peer} trusts the new key`,
      () => peerKeys(gws[peer], BJ),
      (ks) => ks.some((k) => k.kid === next.kid && k.status === 'ACTIVE'),
    );
  // Signing switches after the overlap; peers retire the old key.
  await waitFor(
    '北京 signs with the new key',
    () => keysOf(gws[BJ]),
    (ks) => ks.some((k) => k.kid === next.kid && k.status === 'ACTIVE') && ks.some((k) => k.kid === old.kid && k.status === 'RETIRED'),
    30_000,
  );
  for (const peer of [HB, GD])
    await waitFor(
      `${peer} retired the old key`,
      () => peerKeys(gws[peer], BJ),
      (ks) => ks.some((k) => k.kid === old.kid && k.status === 'RETIRED'),
    );
  const statuses = await traffic.stop();
  expect(statuses.length).toBeGreaterThan(20);
  expect(statuses.filter((s) => s !== 200)).toEqual([]);
  // New answers carry attestations under the new key; the old attestation still checks offline.
  const fresh = await call<VerificationResultBody>(gws[GD], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')));
  const checkNew = await call(gws[GD], 'POST', '/v1/attestations/verify', { attestation: fresh.body.attestation });
  expect(checkNew.body).toMatchObject({ valid: true, kid: next.kid });
  const checkOld = await call(gws[GD], 'POST', '/v1/attestations/verify', { attestation });
  expect(checkOld.body).toMatchObject({ valid: true, kid: old.kid });
  const announced = (await call<AuditBody>(gws[GD], 'GET', '/admin/audit?event=trust.peer.key.announced&limit=1000', undefined, gws[GD].adminToken)).body.events;
  expect(announced.map((e) => e.reason)).toEqual(expect.arrayContaining(['ACTIVE', 'RETIRED']));
});

it('a revocation propagates: attestations under the revoked key are reported as such, calls keep working', async () => {
  const [active] = (await keysOf(gws[BJ])).filter((k) => k.status === 'ACTIVE');
  const before = (await call<VerificationResultBody>(gws[GD], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')))).body.attestation;
  const traffic = load();
  const revoked = await call<{ keys: Key[] }>(gws[BJ], 'POST', `/admin/keys/${active.kid}/revoke`, { reason: '疑似泄露 (suspected compromise)' }, gws[BJ].adminToken);
  expect(revoked.status).toBe(200);
  const replacement = revoked.body.keys.find((k) => k.status === 'ACTIVE')!;
  expect(replacement.kid).not.toBe(active.kid);
  for (const peer of [HB, GD]) {
    await waitFor(
      `${peer} revoked ${active.kid}`,
      () => peerKeys(gws[peer], BJ),
      (ks) => ks.some((k) => k.kid === active.kid && k.status === 'REVOKED') && ks.some((k) => k.kid === replacement.kid && k.status === 'ACTIVE'),
    );
  }
  const statuses = await traffic.stop();
  // Calls signed with the revoked key in the instant before peers learnt the replacement may be
  // refused; once the announcements are applied every call succeeds.
  const after = await Promise.all([
    call(gws[GD], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID'))),
    call(gws[HB], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID'))),
  ]);
  expect(after.map((r) => r.status)).toEqual([200, 200]);
  expect(statuses.length).toBeGreaterThan(0);
  const check = await call(gws[GD], 'POST', '/v1/attestations/verify', { attestation: before });
  expect(check.body).toMatchObject({ valid: false, reason: 'KEY_REVOKED' });
  expect((await call(gws[BJ], 'POST', `/admin/keys/${active.kid}/revoke`, { reason: 'again' }, gws[BJ].adminToken)).status).toBe(409);
  const jwks = (await (await fetch(`${gws[BJ].baseUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
  expect(jwks.keys.map((k) => k.kid)).not.toContain(active.kid);
});

it('a rotation from EdDSA to SM2SM3 (国密) with an overlap: zero failed calls either way, old and new attestations check', async () => {
  const [old] = (await keysOf(gws[GD])).filter((k) => k.status === 'ACTIVE');
  expect(old).toMatchObject({ alg: 'EdDSA' });
  const before = (await call<VerificationResultBody>(gws[BJ], 'POST', '/v1/verifications', verificationBody(demoLicence(GD, 'VALID')))).body.attestation;
  // 广东 asks (its envelopes switch to SM2) and answers (its responses and attestations switch to SM2).
  let stop = false;
  const statuses: number[] = [];
  const run = (async () => {
    while (!stop) {
      const rs = await Promise.all([
        call(gws[GD], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID'))),
        call(gws[BJ], 'POST', '/v1/verifications', verificationBody(demoLicence(GD, 'VALID'))),
        call(gws[HB], 'POST', '/v1/verifications', verificationBody(demoLicence(GD, 'VALID'))),
      ]);
      for (const r of rs) statuses.push(r.status);
    }
  })();
  const rotated = await call<{ keys: (Key & { alg: string; jwk: Record<string, string> })[] }>(gws[GD], 'POST', '/admin/keys/rotate', { overlapHours: 0.001, alg: 'SM2SM3' }, gws[GD].adminToken);
  expect(rotated.status).toBe(200);
  const next = rotated.body.keys.find((k) => k.status === 'NEXT')!;
  expect(next).toMatchObject({ alg: 'SM2SM3', jwk: { kty: 'EC', crv: 'SM2', alg: 'SM2SM3', use: 'sig' } });
  for (const peer of [BJ, HB])
    await waitFor(
      `${peer} trusts 广东's SM2 key`,
      () => peerKeys(gws[peer], GD),
      (ks) => ks.some((k) => k.kid === next.kid && k.status === 'ACTIVE'),
    );
  await waitFor(
    '广东 signs with SM2',
    () => keysOf(gws[GD]),
    (ks) => ks.some((k) => k.kid === next.kid && k.status === 'ACTIVE') && ks.some((k) => k.kid === old.kid && k.status === 'RETIRED'),
    30_000,
  );
  const switched = statuses.length;
  await waitFor(
    'calls after the switch',
    async () => statuses.length,
    (n) => n > switched + 30,
  );
  stop = true;
  await run;
  expect(statuses.length).toBeGreaterThan(30);
  expect(statuses.filter((s) => s !== 200)).toEqual([]);
  const fresh = await call<VerificationResultBody>(gws[BJ], 'POST', '/v1/verifications', verificationBody(demoLicence(GD, 'VALID')));
  const [header] = fresh.body.attestation!.split('.');
  expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toMatchObject({ alg: 'SM2SM3', kid: next.kid });
  expect((await call(gws[HB], 'POST', '/v1/attestations/verify', { attestation: fresh.body.attestation })).body).toMatchObject({ valid: true, kid: next.kid });
  expect((await call(gws[HB], 'POST', '/v1/attestations/verify', { attestation: before })).body).toMatchObject({ valid: true, kid: old.kid });
  const jwks = (await (await fetch(`${gws[GD].baseUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string; alg: string; crv: string }[] };
  expect(jwks.keys.find((k) => k.kid === next.kid)).toMatchObject({ alg: 'SM2SM3', crv: 'SM2' });
  // Case delivery switched too: a case between 北京 and 广东 completes, and 广东 acknowledges 北京's
  // messages with receipts under its new SM2 key, which 北京 checked (DELIVERED).
  const { collaborationId } = await runHukouTransfer(gws[BJ], gws[GD]);
  const receipts = (await deliveredOn(gws[BJ], gws[GD], collaborationId)).map((m) => JSON.parse(Buffer.from(m.receipt!.split('.')[0], 'base64url').toString()) as { alg: string; kid: string });
  expect(receipts.length).toBeGreaterThan(0);
  for (const h of receipts) expect(h).toMatchObject({ alg: 'SM2SM3', kid: next.kid });
});
