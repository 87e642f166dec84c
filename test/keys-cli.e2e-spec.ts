import { Gateway, call, demoLicence, runCli, startFederation, verificationBody } from '@tongban/testkit';
import type { AuditBody } from './support/bodies';
import { waitFor } from './support/wait';

// `tongban keys list|rotate|revoke` as an administrator runs them next to a running gateway: the
// rotation and the revocation are made by the gateway (announced to peers), the CLI only asks.
const BJ = '110000';
const HB = '130000';
const ENV = { TONGBAN_DELIVERY_POLL_MS: '100', TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '400' };

let gws: Record<string, Gateway>;
const ownKeys = async (gw: Gateway) => (await call<{ keys: { kid: string; status: string }[] }>(gw, 'GET', '/admin/keys', undefined, gw.adminToken)).body.keys;
const keysOfPeer = async (gw: Gateway, code: string) =>
  (await call<{ peers: { code: string; keys: { kid: string; status: string }[] }[] }>(gw, 'GET', '/admin/peers', undefined, gw.adminToken)).body.peers.find((p) => p.code === code)?.keys ?? [];

beforeAll(async () => {
  const list = await startFederation([BJ, HB], { env: ENV });
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
});

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

it('rotates through the running gateway (to SM2SM3 with --alg): the new key signs, peers learn it, verifications keep working', async () => {
  const [first] = await ownKeys(gws[BJ]);
  const r = await runCli(gws[BJ].options, ['keys', 'rotate', '--immediate', '--alg', 'SM2SM3']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(new RegExp(`${first.kid}\\s+\\S+\\s+RETIRED`));
  const keys = await ownKeys(gws[BJ]);
  const active = keys.find((k) => k.status === 'ACTIVE')!;
  expect(active.kid).not.toBe(first.kid);
  expect(r.stdout).toContain(active.kid);
  expect(r.stdout).toMatch(new RegExp(`${active.kid}\\s+SM2SM3\\s+ACTIVE`));
  await waitFor(
    '河北 to learn the new key',
    () => keysOfPeer(gws[HB], BJ),
    (ks) => ks.some((k) => k.kid === active.kid && k.status === 'ACTIVE'),
  );
  expect((await call(gws[HB], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')))).status).toBe(200);
  // `keys list` reads the same from the database.
  const listed = await runCli(gws[BJ].options, ['keys', 'list']);
  expect(listed.stdout).toMatch(new RegExp(`${active.kid}\\s+\\S+\\s+ACTIVE`));
});

it('revokes a key with a reason; peers mark it REVOKED; the reason is audited', async () => {
  const retired = (await ownKeys(gws[BJ])).find((k) => k.status === 'RETIRED')!;
  const r = await runCli(gws[BJ].options, ['keys', 'revoke', retired.kid, '--reason', 'key ceremony test: host decommissioned']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(new RegExp(`${retired.kid}\\s+\\S+\\s+REVOKED`));
  await waitFor(
    '河北 to mark the key revoked',
    () => keysOfPeer(gws[HB], BJ),
    (ks) => ks.some((k) => k.kid === retired.kid && k.status === 'REVOKED'),
  );
  const audit = (await call<AuditBody>(gws[BJ], 'GET', '/admin/audit?event=admin.key.revoked', undefined, gws[BJ].adminToken)).body.events;
  expect(audit.at(-1)).toMatchObject({ subject: retired.kid, outcome: 'OK' });
});

it('reports refusals plainly: a wrong token, an unknown key, bad options, an unreachable gateway', async () => {
  const o = gws[BJ].options;
  const wrongToken = await runCli({ ...o, secrets: { ...o.secrets, adminToken: 'not-the-admin-token-xyz' } }, ['keys', 'rotate']);
  expect(wrongToken.code).toBe(1);
  expect(wrongToken.stderr).toMatch(/the gateway answered 401/);
  const unknown = await runCli(o, ['keys', 'revoke', 'no-such-key', '--reason', 'x']);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toMatch(/the gateway answered 404/);
  // One key id in 64 begins with '-': the command line hands it to the gateway, it is not an option.
  const dashed = await runCli(o, ['keys', 'revoke', '-5uoPy8gwtDhG5e-P55Aw5sLT-CZLkkFRjH3BHM1iZg', '--reason', 'x']);
  expect({ code: dashed.code, stderr: dashed.stderr }).toEqual({ code: 1, stderr: expect.stringMatching(/the gateway answered 404/) });
  const both = await runCli(o, ['keys', 'rotate', '--immediate', '--overlap-hours', '2']);
  expect(both.code).toBe(2);
  expect(both.stderr).toMatch(/either --immediate or --overlap-hours/);
  const badAlg = await runCli(o, ['keys', 'rotate', '--alg', 'RS256']);
  expect(badAlg.code).toBe(1);
  expect(badAlg.stderr).toMatch(/the gateway answered 400[\s\S]*alg/);
  const down = await runCli(o, ['keys', 'rotate', '--gateway', 'http://127.0.0.1:1']);
  expect(down.code).toBe(1);
  expect(down.stderr).toMatch(/cannot be reached/);
  // Nothing changed through any of these.
  expect((await ownKeys(gws[BJ])).filter((k) => k.status === 'ACTIVE')).toHaveLength(1);
});
