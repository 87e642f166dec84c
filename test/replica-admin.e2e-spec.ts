import { Gateway, call, connectAll, dropPostgresSchema, gatewayOptions, startGateway } from '@tongban/testkit';
import { waitFor } from './support/wait';

const BJ = '110000';
const HB = '130000';

/**
 * Two replicas of 北京 on one PostgreSQL schema, with the periodic reload off
 * (TONGBAN_TRUST_REFRESH_S=0): what an administrator changes through replica A takes effect at
 * replica B when it commits, through the admin tables' trigger and B's wake-up listener
 * (migration AdminChangeNotify1796400000000, AdminStateReload), with no timer to fall back on.
 */
const pg = process.env.TEST_PG_AVAILABLE === '1' ? describe : describe.skip;
pg('replicas learn admin changes at their commit (PostgreSQL)', () => {
  const url = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `e2e_admin_${Date.now().toString(36)}`;
  let a: Gateway;
  let b: Gateway;
  let hebei: Gateway;
  // A notification arrives in milliseconds; this bound only keeps a failure from hanging.
  const SOON = 5_000;

  beforeAll(async () => {
    const env = { TONGBAN_DATABASE_SCHEMA: schema, TONGBAN_TRUST_REFRESH_S: '0' };
    const oa = await gatewayOptions(BJ, { databaseUrl: url, env });
    const ob = await gatewayOptions(BJ, { databaseUrl: url, env, secrets: oa.secrets });
    a = await startGateway(oa);
    b = await startGateway(ob);
    hebei = await startGateway(await gatewayOptions(HB));
  }, 90_000);

  afterAll(async () => {
    await Promise.all([a, b, hebei].filter(Boolean).map((g) => g.stop()));
    await dropPostgresSchema(schema);
  });

  it('a peer added at A is trusted at B', async () => {
    expect((await call(b, 'GET', `/admin/peers/${HB}`, undefined, b.adminToken)).status).toBe(404);
    await connectAll([a, hebei]);
    await waitFor(
      'B trusts 河北',
      () => call(b, 'GET', `/admin/peers/${HB}`, undefined, b.adminToken),
      (r) => r.status === 200,
      SOON,
    );
  });

  it('an API client created at A is accepted at B, and refused there once A disables it', async () => {
    const created = await call<{ id: string; token: string }>(a, 'POST', '/admin/clients', { kind: 'ADMIN', name: 'auditor-wang', role: 'auditor' }, a.adminToken);
    expect(created.status).toBe(201);
    const { id, token } = created.body;
    await waitFor(
      'B accepts the new token',
      () => call(b, 'GET', '/admin/keys', undefined, token),
      (r) => r.status === 200,
      SOON,
    );
    expect((await call(a, 'POST', `/admin/clients/${id}/disable`, {}, a.adminToken)).status).toBe(200);
    await waitFor(
      'B refuses the disabled token',
      () => call(b, 'GET', '/admin/keys', undefined, token),
      (r) => r.status === 401,
      SOON,
    );
  });

  it("a signing key rotated at A is B's too", async () => {
    const rotated = await call<{ keys: { kid: string; status: string }[] }>(a, 'POST', '/admin/keys/rotate', { immediate: true }, a.adminToken);
    expect(rotated.status).toBe(200);
    const active = rotated.body.keys.find((k) => k.status === 'ACTIVE')!.kid;
    await waitFor(
      "B signs with A's new key",
      () => call<{ keys: { kid: string; status: string }[] }>(b, 'GET', '/admin/keys', undefined, b.adminToken),
      (r) => r.body.keys?.find((k) => k.status === 'ACTIVE')?.kid === active,
      SOON,
    );
  });
});
