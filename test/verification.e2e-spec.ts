import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { beijingDate } from '@tongban/common';
import { buildLicenceId, parseLicenceId } from '@tongban/identifiers';
import { LicenceQuery, VerifyLicencesPayload, VerifyLicencesResultPayload } from '@tongban/proto';
import { FakePeer, Gateway, call, demoLicence, demoLicences, runCli, startFederation, verificationBody } from '@tongban/testkit';
import type { AttestationCheck, VerificationResult } from '@tongban/verification';
import type { AuditBody, ErrorBody } from './support/bodies';

// Three real gateway processes (北京 issuer, 河北 issuer, 广东 asker) on their own SQLite files,
// talking signed gRPC; plus a scripted fake participant (天津 120000) for hostile messages.
const BJ = '110000';
const HB = '130000';
const GD = '440000';
const VERIFY = 'tongban.federation.v1.VerifyLicencesPayload';

let gws: Record<string, Gateway>;
let tianjin: FakePeer;

/** A verification answer: the result on 200, the error otherwise (each test checks the status first). */
type Answer = VerificationResult & ErrorBody;
const verify = (body: unknown, gw = gws[GD]) => call<Answer>(gw, 'POST', '/v1/verifications', body);
const checkAttestation = (attestation: string) => call<AttestationCheck>(gws[GD], 'POST', '/v1/attestations/verify', { attestation });
const audit = async (gw: Gateway, event: string) => (await call<AuditBody>(gw, 'GET', `/admin/audit?event=${event}&limit=1000`, undefined, gw.adminToken)).body.events;

function query(overrides: Partial<LicenceQuery> = {}): Uint8Array {
  const l = demoLicence(BJ, 'VALID');
  return VerifyLicencesPayload.encode({
    queries: [{ queryId: 'q1', licenceType: l.typeCode, licenceId: l.licenceId, licenceNumber: '', holder: undefined, purpose: '测试', notifyRef: '', ...overrides }],
  }).finish();
}

beforeAll(async () => {
  const list = await startFederation([BJ, HB, GD]);
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
  tianjin = await FakePeer.create('120000');
  const added = await call(gws[BJ], 'POST', '/admin/peers', { code: '120000', endpoint: '127.0.0.1:1', keys: [tianjin.jwk()] }, gws[BJ].adminToken);
  expect(added.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

describe('cross-province verification over signed gRPC', () => {
  it('VALID: answered and signed by the issuer, holder matched, attestation checks offline', async () => {
    const l = demoLicence(BJ, 'VALID');
    const res = await verify(verificationBody(l));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'VALID', holderMatch: { name: 'MATCH', code: 'MATCH' }, issuer: { province: BJ, organCode: l.issuerOrganCode } });
    expect(res.body.licence.licenceId).toBe(l.licenceId);
    const check = await checkAttestation(res.body.attestation);
    expect(check.body).toMatchObject({ valid: true, claims: { iss: BJ, aud: GD, status: 'VALID', rid: res.body.requestId } });
    const jwks = (await (await fetch(`${gws[BJ].baseUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(check.body.kid);
  });

  it('never returns the holder ID number', async () => {
    const l = demoLicence(BJ, 'VALID');
    const citizen = { ...demoLicence(BJ, 'VALID') };
    const res = await verify(verificationBody(l));
    expect(JSON.stringify(res.body)).not.toContain(citizen.holderCode);
    const marriage = (await import('@tongban/testkit')).demoLicences(BJ).find((x) => x.holderCodeType === '111' && x.status === 'VALID')!;
    const r2 = await verify(verificationBody(marriage));
    expect(r2.status).toBe(200);
    expect(r2.body.holderMatch.code).toBe('MATCH');
    expect(JSON.stringify(r2.body)).not.toContain(marriage.holderCode);
  });

  it.each(['EXPIRED', 'SUSPENDED', 'REVOKED'] as const)('%s licences are reported as such', async (kind) => {
    const res = await verify(verificationBody(demoLicence(BJ, kind)));
    expect(res.status).toBe(200);
    expect(res.body.status).toBe(kind);
  });

  it('NOT_YET_VALID for a licence whose validFrom is after today in Beijing (before the change: VALID)', async () => {
    // A licence on record as VALID that takes effect in 30 days, imported at 北京 with the CLI.
    const l = demoLicence(BJ, 'VALID');
    const parts = parseLicenceId(l.licenceId);
    const serial = `9${parts.serial.slice(1)}`; // a licence of its own, not one of the demo set
    const future = beijingDate(new Date(Date.now() + 30 * 86_400_000));
    const record = { ...l, licenceId: buildLicenceId({ ...parts, serial }), number: `${l.number}-F`, issueDate: beijingDate(new Date()), validFrom: future, validUntil: null };
    const file = join(tmpdir(), `tongban-e2e-not-yet-valid-${process.pid}.json`);
    writeFileSync(file, JSON.stringify([record]));
    const imported = await runCli(gws[BJ].options, ['licences', 'import', file]);
    expect({ code: imported.code, stderr: imported.stderr }).toMatchObject({ code: 0 });
    const res = await verify(verificationBody(record));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'NOT_YET_VALID', holderMatch: { name: 'MATCH', code: 'MATCH' }, issuer: { province: BJ } });
    // The signed attestation says the same, and checks offline.
    const check = await checkAttestation(res.body.attestation);
    expect(check.body).toMatchObject({ valid: true, claims: { iss: BJ, aud: GD, status: 'NOT_YET_VALID' } });
  });

  it('NOT_FOUND for an unknown licence number at the named issuer', async () => {
    const l = demoLicence(BJ, 'VALID');
    const res = await verify({ licenceType: l.typeCode, licenceNumber: 'NO-SUCH-1', issuerProvince: BJ, purpose: '核验' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'NOT_FOUND', holderMatch: { name: 'NOT_CHECKED', code: 'NOT_CHECKED' }, licence: {} });
  });

  it('holder mismatch: wrong name and wrong code are MISMATCH', async () => {
    const l = demoLicence(BJ, 'VALID');
    const other = demoLicence(HB, 'VALID');
    const body = verificationBody(l, {
      holder:
        l.holderCodeType === '111'
          ? { name: '不是本人', idNumber: '11010519491231002X' }
          : { name: '不是本公司', creditCode: other.holderCodeType === '001' ? other.holderCode : '91350100M000100Y43' },
    });
    const res = await verify(body);
    expect(res.status).toBe(200);
    expect(res.body.holderMatch).toEqual({ name: 'MISMATCH', code: 'MISMATCH' });
  });

  it('bad identifier: 400 naming the field and rule, and nothing crosses the network', async () => {
    const before = (await audit(gws[BJ], 'federation.request.accepted')).length;
    const l = demoLicence(BJ, 'VALID');
    const broken = l.licenceId.slice(0, -1) + (l.licenceId.endsWith('0') ? '1' : '0');
    const res = await verify(verificationBody(l, { licenceId: broken }));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'licenceId', rule: 'GBT36904_CHECK_CHARACTER' });
    const badId = await verify(verificationBody(l, { holder: { idNumber: '110105194912310021' } }));
    expect(badId.body.error).toMatchObject({ field: 'holder.idNumber', rule: 'GB11643_CHECK_CHARACTER' });
    expect(JSON.stringify(badId.body)).not.toContain('110105194912310021');
    const noPurpose = await verify(verificationBody(l, { purpose: '' }));
    expect(noPurpose.body.error).toMatchObject({ field: 'purpose' });
    const after = (await audit(gws[BJ], 'federation.request.accepted')).length;
    expect(after).toBe(before);
  });

  it('rejects callers without a valid token (401) and malformed JSON (400)', async () => {
    const res = await call<ErrorBody>(gws[GD], 'POST', '/v1/verifications', {}, 'wrong-token-wrong-token');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHENTICATED');
    const bad = await call<ErrorBody>(gws[GD], 'POST', '/v1/verifications', '{not json');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
  });

  it("the issuer's policy refuses a licence type it does not allow for the caller: 403", async () => {
    const l = demoLicence(BJ, 'VALID');
    const other = l.typeCode === '11100000000013338W011' ? '11100000000013338W020' : '11100000000013338W011';
    await call(gws[BJ], 'PATCH', `/admin/peers/${GD}`, { allowedLicenceTypes: [other] }, gws[BJ].adminToken);
    try {
      const res = await verify(verificationBody(l));
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'ISSUER_REFUSED', reason: 'LICENCE_TYPE_NOT_ALLOWED' });
      const refused = await audit(gws[BJ], 'federation.request.refused');
      expect(refused.some((e) => e.reason === 'LICENCE_TYPE_NOT_ALLOWED' && e.actor === GD)).toBe(true);
    } finally {
      await call(gws[BJ], 'PATCH', `/admin/peers/${GD}`, { allowedLicenceTypes: ['*'] }, gws[BJ].adminToken);
    }
  });

  it('batch: grouped per issuer, answered in request order, each with its own attestation', async () => {
    const items = [
      verificationBody(demoLicence(BJ, 'VALID')),
      verificationBody(demoLicence(HB, 'VALID')),
      verificationBody(demoLicence(GD, 'VALID')),
      verificationBody(demoLicence(BJ, 'REVOKED')),
      { licenceType: demoLicence(HB, 'VALID').typeCode, licenceNumber: 'NONE-42', issuerProvince: HB, purpose: '批量核验' },
      verificationBody(demoLicence(HB, 'SUSPENDED')),
    ];
    const res = await call<{ results: VerificationResult[] }>(gws[GD], 'POST', '/v1/verifications/batch', { items });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r) => r.status)).toEqual(['VALID', 'VALID', 'VALID', 'REVOKED', 'NOT_FOUND', 'SUSPENDED']);
    expect(res.body.results.map((r) => r.issuer.province)).toEqual([BJ, HB, GD, BJ, HB, HB]);
    for (const r of res.body.results) {
      const check = await checkAttestation(r.attestation);
      expect(check.body.valid).toBe(true);
      expect(check.body.claims?.rid).toBe(r.requestId);
    }
    const bad = await call<ErrorBody>(gws[GD], 'POST', '/v1/verifications/batch', { items: [items[0], { ...items[1], purpose: '' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('items[1].purpose');
  });
});

describe('single verifications sharing a call (TONGBAN_VERIFY_COALESCE, protocol.md §7.7)', () => {
  it('concurrent requests to one issuer share signed calls; each keeps its own answer, attestation and audit row', async () => {
    const licences = demoLicences(BJ).filter((l) => l.status === 'VALID');
    const accepted = async () => (await audit(gws[BJ], 'federation.request.accepted')).filter((e) => e.actor === GD && e.subject === 'VerifyLicences').length;
    // Whether two requests land in one turn of the asker's event loop depends on how they arrive:
    // a few rounds of concurrent requests make at least one shared call all but certain.
    let shared = false;
    for (let round = 0; round < 5 && !shared; round++) {
      const callsBefore = await accepted();
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => verify(verificationBody(licences[i % licences.length]))));
      expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
      const ids = answers.map((a) => a.body.requestId);
      expect(new Set(ids).size).toBe(12);
      for (const a of answers) {
        const check = await checkAttestation(a.body.attestation);
        expect(check.body).toMatchObject({ valid: true, claims: { iss: BJ, aud: GD, rid: a.body.requestId } });
      }
      const detail = (e: { details: unknown }, key: string) => (typeof e.details === 'string' ? (JSON.parse(e.details) as Record<string, string>)[key] : undefined) ?? '';
      const answered = (await audit(gws[BJ], 'verification.answered')).filter((e) => ids.includes(detail(e, 'queryId')));
      expect(answered).toHaveLength(12);
      const requested = (await audit(gws[GD], 'verification.requested')).filter((e) => ids.includes(detail(e, 'requestId')));
      expect(requested).toHaveLength(12);
      const calls = (await accepted()) - callsBefore;
      expect(calls).toBeGreaterThanOrEqual(1);
      expect(calls).toBeLessThanOrEqual(12);
      shared = calls < 12;
    }
    expect(shared).toBe(true);
  });
});

describe('hostile messages are refused with a precise status and recorded', () => {
  const endpoint = () => gws[BJ].grpcEndpoint;

  async function expectRefused(envelope: Parameters<typeof FakePeer.send>[2], code: number, refusal: string) {
    const res = await FakePeer.send(endpoint(), 'verifyLicences', envelope);
    expect({ code: res.code, refusal: res.refusal }).toEqual({ code, refusal });
    expect(res.details).toMatch(new RegExp(`^${refusal}: `));
    const refused = await audit(gws[BJ], 'federation.request.refused');
    expect(refused.some((e) => e.reason === refusal)).toBe(true);
  }

  it('an honest message from the fake peer is answered with a signed response', async () => {
    const env = tianjin.craft({ aud: BJ, mty: VERIFY, payload: query() });
    const res = await FakePeer.send(endpoint(), 'verifyLicences', env);
    expect(res.code).toBeUndefined();
    const result = VerifyLicencesResultPayload.decode(res.envelope!.payload);
    expect(result.results[0].queryId).toBe('q1');
    expect(result.results[0].attestation.split('.')).toHaveLength(3);
  });

  it('tampered payload → DIGEST_MISMATCH', async () => {
    const payload = query();
    const tampered = query({ purpose: '篡改' });
    await expectRefused(tianjin.craft({ aud: BJ, mty: VERIFY, payload, sendPayload: tampered }), status.INVALID_ARGUMENT, 'DIGEST_MISMATCH');
  });

  it('tampered signed claims → BAD_SIGNATURE', async () => {
    const env = tianjin.craft({ aud: BJ, mty: VERIFY, payload: query() });
    const [h, c, s] = env.jws.split('.');
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString()) as { exp: number };
    claims.exp += 100;
    await expectRefused({ ...env, jws: `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}` }, status.UNAUTHENTICATED, 'BAD_SIGNATURE');
  });

  it('replayed message → REPLAYED (ALREADY_EXISTS)', async () => {
    const env = tianjin.craft({ aud: BJ, mty: VERIFY, payload: query() });
    expect((await FakePeer.send(endpoint(), 'verifyLicences', env)).code).toBeUndefined();
    await expectRefused(env, status.ALREADY_EXISTS, 'REPLAYED');
  });

  it('unknown key → UNKNOWN_KEY; unknown sender → UNKNOWN_SENDER', async () => {
    const impostor = await FakePeer.create('120000');
    await expectRefused(impostor.craft({ aud: BJ, mty: VERIFY, payload: query() }), status.UNAUTHENTICATED, 'UNKNOWN_KEY');
    const stranger = await FakePeer.create('150000');
    await expectRefused(stranger.craft({ aud: BJ, mty: VERIFY, payload: query() }), status.UNAUTHENTICATED, 'UNKNOWN_SENDER');
  });

  it('wrong recipient, expired, alg none, wrong message type', async () => {
    await expectRefused(tianjin.craft({ aud: HB, mty: VERIFY, payload: query() }), status.FAILED_PRECONDITION, 'WRONG_RECIPIENT');
    const old = Math.floor(Date.now() / 1000) - 1000;
    await expectRefused(tianjin.craft({ aud: BJ, mty: VERIFY, payload: query(), claims: { iat: old, exp: old + 120 } }), status.UNAUTHENTICATED, 'EXPIRED');
    await expectRefused(tianjin.craft({ aud: BJ, mty: VERIFY, payload: query(), header: { alg: 'none' }, signature: 'none' }), status.UNAUTHENTICATED, 'ALG_NOT_ALLOWED');
    await expectRefused(tianjin.craft({ aud: BJ, mty: 'tongban.federation.v1.GetJwksPayload', payload: query() }), status.INVALID_ARGUMENT, 'TYPE_MISMATCH');
  });

  it('a payload over the size limit → PAYLOAD_TOO_LARGE', async () => {
    const big = VerifyLicencesPayload.encode({
      queries: [{ queryId: 'q', licenceType: 'x', licenceId: '', licenceNumber: 'x'.repeat(1100 * 1024), holder: undefined, purpose: 'p', notifyRef: '' }],
    }).finish();
    await expectRefused(tianjin.craft({ aud: BJ, mty: VERIFY, payload: big }), status.RESOURCE_EXHAUSTED, 'PAYLOAD_TOO_LARGE');
  });
});

describe('issuer down', () => {
  it('503 within the deadline, while attestations already received still check offline', async () => {
    const l = demoLicence(HB, 'VALID');
    const before = await verify(verificationBody(l));
    expect(before.status).toBe(200);
    await gws[HB].stop();
    const started = Date.now();
    const res = await verify(verificationBody(l));
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('ISSUER_UNREACHABLE');
    expect(Date.now() - started).toBeLessThan(4500);
    const check = await checkAttestation(before.body.attestation);
    expect(check.body).toMatchObject({ valid: true, claims: { iss: HB } });
  });
});

describe('personal data in logs', () => {
  it('no gateway logged a holder ID number or credit code it handled', () => {
    const codes = [BJ, HB, GD].flatMap((c) => demoLicences(c).map((l) => l.holderCode));
    for (const gw of Object.values(gws)) for (const code of codes) expect(gw.output()).not.toContain(code);
  });
});

describe('peer rate limit', () => {
  it("requests beyond a peer's rate are refused (RATE_LIMITED → 429 at the asker) and recorded", async () => {
    await call(gws[BJ], 'PATCH', `/admin/peers/${GD}`, { rateLimitPerSecond: 1 }, gws[BJ].adminToken);
    try {
      const body = verificationBody(demoLicence(BJ, 'VALID'));
      // One after the other: the limit counts calls, and concurrent requests may share one (§7.7).
      const results: Awaited<ReturnType<typeof verify>>[] = [];
      for (let i = 0; i < 8; i++) results.push(await verify(body));
      const statuses = results.map((r) => r.status);
      expect(statuses).toContain(200);
      expect(statuses).toContain(429);
      expect(results.find((r) => r.status === 429)!.body.error).toMatchObject({ code: 'ISSUER_RATE_LIMITED', reason: 'RATE_LIMITED' });
      const refused = await audit(gws[BJ], 'federation.request.refused');
      expect(refused.some((e) => e.reason === 'RATE_LIMITED' && e.actor === GD)).toBe(true);
    } finally {
      await call(gws[BJ], 'PATCH', `/admin/peers/${GD}`, { rateLimitPerSecond: null }, gws[BJ].adminToken);
    }
  });
});
