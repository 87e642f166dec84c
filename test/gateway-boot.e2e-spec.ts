import { makeGenericClientConstructor } from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetJwksPayload, JwksPayload } from '@tongban/proto';
import { service as healthService } from 'grpc-health-check';
import { FakePeer, Gateway, call, gatewayOptions, runCli, startGateway, testCredentials } from '@tongban/testkit';
import type { AuditBody, ErrorBody } from './support/bodies';

const HealthClient = makeGenericClientConstructor(healthService, 'grpc.health.v1.Health');
type HealthCheckClient = InstanceType<typeof HealthClient> & { check(req: { service: string }, cb: (err: Error | null, r?: { status: string }) => void): void };

describe('gateway boot, configuration and the federation port', () => {
  let gw: Gateway;
  let peer: FakePeer;

  beforeAll(async () => {
    gw = await startGateway(await gatewayOptions('110000'));
    peer = await FakePeer.create('130000');
    const added = await call(gw, 'POST', '/admin/peers', { code: '130000', endpoint: '127.0.0.1:1', keys: [peer.jwk()] }, gw.adminToken);
    expect(added.status).toBe(201);
  });

  afterAll(async () => {
    await gw?.stop();
  });

  it('serves grpc.health.v1 as SERVING on the federation port', async () => {
    const client = new HealthClient(gw.grpcEndpoint, await testCredentials('990000')) as HealthCheckClient;
    const res = await new Promise<{ status: string } | undefined>((resolve, reject) =>
      client.check({ service: 'tongban.federation.v1.FederationService' }, (err, r) => (err ? reject(err) : resolve(r))),
    );
    client.close();
    expect(res?.status).toBe('SERVING');
  });

  it('publishes its JWKS over HTTP and over the signed GetJwks RPC, identically and without private parts', async () => {
    const http = (await (await fetch(`${gw.baseUrl}/.well-known/jwks.json`)).json()) as { keys: Record<string, string>[] };
    expect(http.keys).toHaveLength(1);
    expect(http.keys[0]).not.toHaveProperty('d');
    const env = peer.craft({ aud: '110000', mty: 'tongban.federation.v1.GetJwksPayload', payload: GetJwksPayload.encode({}).finish() });
    const res = await FakePeer.send(gw.grpcEndpoint, 'getJwks', env);
    expect(res.code).toBeUndefined();
    const [, claims] = res.envelope!.jws.split('.');
    expect(JSON.parse(Buffer.from(claims, 'base64url').toString())).toMatchObject({ iss: '110000', aud: '130000', mty: 'tongban.federation.v1.JwksPayload' });
    expect(JSON.parse(JwksPayload.decode(res.envelope!.payload).jwksJson)).toEqual(http);
  });

  it('admin endpoints need the admin token, and bad peer input is a 400 naming the field', async () => {
    // A provincial system's token is authenticated but has no admin role; no token at all is 401.
    expect((await call(gw, 'GET', '/admin/peers')).status).toBe(403);
    expect((await fetch(`${gw.baseUrl}/admin/peers`)).status).toBe(401);
    const bad = await call<ErrorBody>(gw, 'POST', '/admin/peers', { code: '440000', endpoint: 'not an endpoint' }, gw.adminToken);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'endpoint' });
    const priv = await call<ErrorBody>(gw, 'POST', '/admin/peers', { code: '440000', endpoint: 'h:1', keys: [{ ...peer.jwk(), d: 'secret' }] }, gw.adminToken);
    expect(priv.body.error).toMatchObject({ field: 'keys.0.d', rule: 'PRIVATE_KEY_MATERIAL' });
    expect((await call(gw, 'GET', '/admin/peers/440000', undefined, gw.adminToken)).status).toBe(404);
  });

  it('local clients have scopes, administrators have roles; tokens are shown once and stored hashed', async () => {
    const sys = await call<{ id: string; token: string }>(gw, 'POST', '/admin/clients', { kind: 'SYSTEM', name: 'hall-verify', scopes: ['verify'] }, gw.adminToken);
    expect(sys.status).toBe(201);
    expect(sys.body.token).toMatch(/^tb_/);
    const auditor = await call<{ id: string; token: string }>(gw, 'POST', '/admin/clients', { kind: 'ADMIN', name: 'auditor-1', role: 'auditor' }, gw.adminToken);
    const listed = await call(gw, 'GET', '/admin/clients', undefined, auditor.body.token);
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).not.toContain(sys.body.token);
    expect((await call(gw, 'PATCH', '/admin/peers/130000', { status: 'SUSPENDED' }, auditor.body.token)).status).toBe(403);
    expect((await call(gw, 'GET', '/admin/audit?limit=5', undefined, auditor.body.token)).status).toBe(200);
    const denied = await call<ErrorBody>(gw, 'GET', '/v1/cases', undefined, sys.body.token);
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 'FORBIDDEN' });
    expect((await call(gw, 'POST', '/v1/attestations/verify', { attestation: 'a.b.c' }, sys.body.token)).status).toBe(200);
    expect((await call(gw, 'GET', '/admin/peers', undefined, sys.body.token)).status).toBe(403);
    await call(gw, 'POST', `/admin/clients/${sys.body.id}/disable`, undefined, gw.adminToken);
    expect((await call(gw, 'POST', '/v1/attestations/verify', { attestation: 'a.b.c' }, sys.body.token)).status).toBe(401);
    const denials = (await call<AuditBody>(gw, 'GET', '/admin/audit?event=access.denied', undefined, gw.adminToken)).body.events;
    expect(denials.map((e) => e.actor)).toEqual(expect.arrayContaining(['auditor-1', 'hall-verify']));
  });

  it('refuses to start in production without a key-encryption secret, naming the setting', async () => {
    const o = await gatewayOptions('130000', { env: { TONGBAN_ENV: 'production', TONGBAN_KEY_ENCRYPTION_SECRET: '' } });
    const started = startGateway({ ...o, secrets: { ...o.secrets, keyEncryptionSecret: '' } });
    await expect(started).rejects.toThrow(/TONGBAN_KEY_ENCRYPTION_SECRET \(keyEncryptionSecret\): required in production/);
  });

  it('stops boot on a bad setting with a message naming it', async () => {
    const o = await gatewayOptions('130000', { env: { TONGBAN_PEER_DEADLINE_MS: 'soon' } });
    await expect(startGateway(o)).rejects.toThrow(/TONGBAN_PEER_DEADLINE_MS/);
    const unknown = await gatewayOptions('130000', { env: { TONGBAN_PEER_DEADLINE: '5' } });
    await expect(startGateway(unknown)).rejects.toThrow(/TONGBAN_PEER_DEADLINE: unknown setting/);
  });

  it('restarts with the same key (decrypted from the database) and refuses a wrong key-encryption secret', async () => {
    const o = await gatewayOptions('440000');
    const first = await startGateway(o);
    const kid = ((await (await fetch(`${first.baseUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys[0].kid;
    await first.stop();
    const again = await startGateway(o);
    const kid2 = ((await (await fetch(`${again.baseUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys[0].kid;
    await again.stop();
    expect(kid2).toBe(kid);
    await expect(startGateway({ ...o, secrets: { ...o.secrets, keyEncryptionSecret: 'another-secret-of-enough-length' } })).rejects.toThrow(/cannot be decrypted/);
  });

  it('CLI import: a bad record is reported by index and field, and nothing is written', async () => {
    const o = await gatewayOptions('650000');
    const file = join(o.dir, 'bad.json');
    writeFileSync(file, JSON.stringify([{ licenceId: '1.2.156.3005.2.x' }]));
    const r = await runCli(o, ['licences', 'import', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/records\[0\]\.licenceId/);
  });
});
