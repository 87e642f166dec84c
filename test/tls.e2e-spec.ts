import { GetJwksPayload } from '@tongban/proto';
import { FakePeer, Gateway, TestPki, call, demoLicence, gatewayOptions, runCli, startFederation, startGateway, verificationBody } from '@tongban/testkit';
import type { AuditBody, ErrorBody, TlsBody, VerificationResultBody } from './support/bodies';
import { waitFor } from './support/wait';

// Mutual TLS between real gateway processes: identities in certificates, the client-side check
// of the server's participant, hot reload of renewed files, and the start-up rules.

const BJ = '110000';
const HB = '130000';
const GD = '440000';

describe('mutual TLS between gateways', () => {
  let gws: Record<string, Gateway>;

  beforeAll(async () => {
    const started = await startFederation([BJ, HB, GD], { env: { TONGBAN_TLS_RELOAD_S: '1' } });
    gws = Object.fromEntries(started.map((g) => [g.code, g]));
  });

  afterAll(async () => {
    await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
  });

  it('verifies across provinces over mutual TLS and says so in /health and /admin/tls', async () => {
    const r = await call<VerificationResultBody>(gws[GD], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')));
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('VALID');
    expect((await call(gws[GD], 'GET', '/health')).body).toMatchObject({ status: 'ok', code: GD, transport: 'mtls' });
    const tls = await call(gws[GD], 'GET', '/admin/tls', undefined, gws[GD].adminToken);
    expect(tls.status).toBe(200);
    expect(tls.body).toMatchObject({ mode: 'mtls', participant: GD, fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/), lastReloadError: null });
    expect(JSON.stringify(tls.body)).not.toMatch(/PRIVATE KEY/);
    const metrics = await (await fetch(`${gws[GD].baseUrl}/metrics`)).text();
    const left = Number(/^tongban_tls_certificate_expiry_seconds (\d+)/m.exec(metrics)?.[1]);
    expect(left).toBeGreaterThan(9 * 86_400);
  });

  it('refuses to call a peer whose server certificate names another participant (endpoint hijack), with a clear error', async () => {
    // 广东 is told that 河北 lives at 北京's address: 北京 answers the TLS handshake with a
    // certificate for 110000, which is not the 130000 广东 meant to call.
    const admin = (m: string, p: string, b?: unknown) => call(gws[GD], m, p, b, gws[GD].adminToken);
    expect((await admin('PATCH', `/admin/peers/${HB}`, { endpoint: gws[BJ].grpcEndpoint })).status).toBe(200);
    try {
      const r = await call<ErrorBody>(gws[GD], 'POST', '/v1/verifications', verificationBody(demoLicence(HB, 'VALID')));
      expect(r.status).toBe(503);
      expect(r.body.error).toMatchObject({ code: 'ISSUER_UNREACHABLE', reason: 'TLS_HANDSHAKE' });
      expect(r.body.error.message).toMatch(/mutual TLS/);
      // 北京 never saw a call: its audit has no request from 440000 in this window.
      expect(gws[GD].output()).toMatch(/TLS handshake: .*certificate is for participant 110000, not 130000/);
    } finally {
      expect((await admin('PATCH', `/admin/peers/${HB}`, { endpoint: gws[HB].grpcEndpoint })).status).toBe(200);
    }
    expect((await call(gws[GD], 'POST', '/v1/verifications', verificationBody(demoLicence(HB, 'VALID')))).status).toBe(200);
  });

  it('refuses, audits and does not answer a signed request whose TLS certificate names another participant', async () => {
    const tianjin = await FakePeer.create('120000');
    const admin = <T = unknown>(m: string, p: string, b?: unknown) => call<T>(gws[BJ], m, p, b, gws[BJ].adminToken);
    expect((await admin('POST', '/admin/peers', { code: '120000', endpoint: '127.0.0.1:1', keys: [tianjin.jwk()] })).status).toBe(201);
    const env = () => tianjin.craft({ aud: BJ, mty: 'tongban.federation.v1.GetJwksPayload', payload: GetJwksPayload.encode({}).finish() });
    const refused = await FakePeer.send(gws[BJ].grpcEndpoint, 'getJwks', env(), HB);
    expect({ code: refused.code, refusal: refused.refusal }).toEqual({ code: 7, refusal: 'TLS_IDENTITY_MISMATCH' });
    expect(refused.envelope).toBeUndefined();
    const audit = await admin<AuditBody>('GET', '/admin/audit?event=federation.request.refused&limit=5');
    expect(audit.body.events[0]).toMatchObject({ actor: 'claimed:120000', reason: 'TLS_IDENTITY_MISMATCH', outcome: 'REFUSED' });
    // The same message with the matching certificate is answered.
    expect((await FakePeer.send(gws[BJ].grpcEndpoint, 'getJwks', env())).code).toBeUndefined();
  });

  it('counts and logs handshakes it refuses (no certificate, untrusted CA, plaintext), which never reach a handler', async () => {
    const env = (await FakePeer.create('120000')).craft({ aud: BJ, mty: 'tongban.federation.v1.GetJwksPayload', payload: GetJwksPayload.encode({}).finish() });
    for (const as of ['no-certificate', { untrustedCa: '120000' }, 'insecure'] as const) {
      expect((await FakePeer.send(gws[BJ].grpcEndpoint, 'getJwks', env, as)).code).toBe(14); // UNAVAILABLE at the client
    }
    const count = async (reason: string) => {
      const text = await (await fetch(`${gws[BJ].baseUrl}/metrics`)).text();
      return Number(new RegExp(`^tongban_tls_handshake_failures_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    };
    // A certificate from an unknown CA is reported as UNTRUSTED_CERTIFICATE, or as CONNECTION_RESET when
    // the client hangs up before the server has recorded its verdict (TLS 1.3 timing).
    await waitFor(
      'the refused handshakes counted',
      async () => ({ none: await count('NO_CLIENT_CERTIFICATE'), untrusted: (await count('UNTRUSTED_CERTIFICATE')) + (await count('CONNECTION_RESET')), plaintext: await count('NOT_TLS') }),
      (c) => c.none >= 1 && c.untrusted >= 1 && c.plaintext >= 1,
    );
    // Logged too (at most one line per 10 s, with a count of the others).
    await waitFor(
      'the refused handshake logged',
      async () => gws[BJ].output(),
      (out) => /TLS handshake from \S+ refused: [A-Z_]+/.test(out),
    );
  });

  it('picks up a renewed certificate without a restart and keeps serving with it', async () => {
    const tlsOf = async () => (await call<TlsBody>(gws[HB], 'GET', '/admin/tls', undefined, gws[HB].adminToken)).body;
    const before = await tlsOf();
    // 河北 has a channel to 北京 open before the renewal: after it, that channel is replaced (new
    // connections present the renewed certificate) without failing the calls.
    expect((await call(gws[HB], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')))).status).toBe(200);
    // Renewal as an operator does it: a new key and certificate from the same CA, written over the
    // files the gateway was started with (TONGBAN_TLS_RELOAD_S=1 here; 60 s by default).
    await (await TestPki.get()).renew(HB, 20);
    const after = await waitFor('the renewed certificate to be loaded', tlsOf, (t) => t.fingerprint !== before.fingerprint);
    expect(after).toMatchObject({ mode: 'mtls', participant: HB, lastReloadError: null });
    expect(Date.parse(after.notAfter)).toBeGreaterThan(Date.parse(before.notAfter));
    expect(gws[HB].output()).toMatch(/TLS material loaded: certificate/);
    const audit = (await call<AuditBody>(gws[HB], 'GET', '/admin/audit?event=transport.tls.reloaded', undefined, gws[HB].adminToken)).body.events;
    expect(audit.at(-1)).toMatchObject({ actor: 'system', subject: after.fingerprint, outcome: 'OK' });
    expect(JSON.parse(audit.at(-1)!.details as string)).toMatchObject({ previous: before.fingerprint, notAfter: after.notAfter, trustedCas: 1 });
    // Both directions work with the new certificate: 河北 as server and as client.
    expect((await call(gws[GD], 'POST', '/v1/verifications', verificationBody(demoLicence(HB, 'VALID')))).status).toBe(200);
    expect((await call(gws[HB], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')))).status).toBe(200);
  });
});

describe('tongban tls check and show', () => {
  it('runs the start-up checks on the configured files, or on others, without starting a gateway', async () => {
    const pki = await TestPki.get();
    const o = await gatewayOptions(HB);
    const ok = await runCli(o, ['tls', 'check']);
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' });
    expect(ok.stdout).toMatch(/^OK: certificate for participant 130000, valid .* \(\d+ days left\)/);
    const wrong = await runCli(o, ['tls', 'check', '--cert', (await pki.filesFor(GD)).certFile]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^NOT OK: TONGBAN_TLS_CERT .*: the certificate is for participant 440000, but this gateway is 130000/);
    const shown = await runCli(o, ['tls', 'show', o.tls!.certFile]);
    expect(shown.stdout).toMatch(/participant\s+130000[\s\S]*URI:urn:tongban:participant:130000, DNS:gateway-130000\.tongban\.invalid/);
    expect(shown.stdout + shown.stderr + ok.stdout).not.toMatch(/PRIVATE KEY/);
  });
});

describe('start-up rules for the federation transport', () => {
  it('refuses to start without TLS files or the development flag, naming the settings', async () => {
    const o = await gatewayOptions(HB, { insecure: false });
    await expect(startGateway({ ...o, tls: undefined })).rejects.toThrow(/TONGBAN_TLS_CERT, TONGBAN_TLS_KEY and TONGBAN_TLS_CA are not set/);
  });

  it('refuses a certificate made for another participant', async () => {
    const pki = await TestPki.get();
    const o = await gatewayOptions(HB, { tls: await pki.filesFor(GD) });
    await expect(startGateway(o)).rejects.toThrow(/the certificate is for participant 440000, but this gateway is 130000/);
  });

  it('refuses the development flag in production', async () => {
    const o = await gatewayOptions(HB, { insecure: true, env: { TONGBAN_ENV: 'production' } });
    await expect(startGateway(o)).rejects.toThrow(/TONGBAN_GRPC_INSECURE.*not allowed in production/);
  });

  it('runs plaintext behind the development flag, warning at start, and says so in /health', async () => {
    const gw = await startGateway(await gatewayOptions(HB, { insecure: true }));
    try {
      expect(gw.output()).toMatch(/TONGBAN_GRPC_INSECURE=true: the federation port and calls to peers use PLAINTEXT/);
      expect((await call(gw, 'GET', '/health')).body).toMatchObject({ transport: 'insecure' });
      expect((await call(gw, 'GET', '/admin/tls', undefined, gw.adminToken)).body).toEqual({ mode: 'insecure' });
    } finally {
      await gw.stop();
    }
  });
});
