import Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JwsAlgorithm, PublicJwkMembers, importPublicJwk, verifyJwsSignature } from '@tongban/gm';
import { Gateway, ROOT, call, connectAll, demoLicence, gatewayOptions, importDemoLicences, startGateway, verificationBody } from '@tongban/testkit';
import type { AttestationCheck } from '@tongban/verification';
import type { VerificationResultBody } from './support/bodies';
import { deliveredOn, runHukouTransfer } from './support/hukou-case';

// A mixed federation (issue 11): 北京 signs with Ed25519, 河北 with 国密 SM2 (SM2SM3), 广东 with
// ECDSA P-256; every gateway accepts all three (the default allow-list). Licences are verified across
// every ordered pair, and a case runs to COMPLETED across every ordered pair, over mutual TLS. 河北 also
// digests payloads with SM3 (TONGBAN_ENVELOPE_DIGEST=SM3: `"dal":"SM3"` in its envelopes and receipts,
// docs/protocol.md §3.5), so every call to or from it crosses the SM3/SHA-256 boundary.
const BJ = '110000';
const HB = '130000';
const GD = '440000';
const ALG: Record<string, string> = { [BJ]: 'EdDSA', [HB]: 'SM2SM3', [GD]: 'ES256' };
const FAST = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '400', TONGBAN_DELIVERY_POLL_MS: '100' };

let gws: Record<string, Gateway>;
/** The `alg` of the status list `listId` of `issuer` that `checker` cached (its SQLite file). */
function cachedListAlg(checker: string, issuer: string, listId: string): string {
  const d = new Database(join(gws[checker].options.dir, `tongban-${checker}.sqlite`), { readonly: true, fileMustExist: true, timeout: 5000 });
  try {
    const row = d.prepare('SELECT jws FROM status_list_cache WHERE issuer = ? AND list_id = ?').get(issuer, listId) as { jws: string } | undefined;
    return row ? headerOf(row.jws).alg : 'not cached';
  } finally {
    d.close();
  }
}
const headerOf = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[0], 'base64url').toString()) as { alg: string; kid: string };
const claimsOf = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
/** A gateway's public keys as it publishes them (/.well-known/jwks.json). */
const publishedKeys = async (code: string) => ((await (await fetch(`${gws[code].baseUrl}/.well-known/jwks.json`)).json()) as { keys: (PublicJwkMembers & { kid: string })[] }).keys;
/** Whether `jws` verifies offline, in this process, with `code`'s published key of its algorithm. */
const verifiesWithKeyOf = async (jws: string, code: string) => {
  const alg = ALG[code] as JwsAlgorithm;
  const key = (await publishedKeys(code)).find((k) => k.kid === headerOf(jws).kid);
  return key !== undefined && verifyJwsSignature(jws, importPublicJwk(key, alg), alg);
};

beforeAll(async () => {
  const options = await Promise.all(
    Object.keys(ALG).map((code) => gatewayOptions(code, { env: { ...FAST, TONGBAN_SIGNING_ALG: ALG[code], ...(code === HB ? { TONGBAN_ENVELOPE_DIGEST: 'SM3' } : {}) } })),
  );
  await Promise.all(options.map(importDemoLicences));
  const list = await Promise.all(options.map(startGateway));
  await connectAll(list);
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

it('each gateway publishes its key with its algorithm; 河北 an SM2 JWK with alg SM2SM3', async () => {
  for (const code of Object.keys(ALG)) {
    const jwks = (await (await fetch(`${gws[code].baseUrl}/.well-known/jwks.json`)).json()) as { keys: { alg: string; crv: string }[] };
    expect(jwks.keys.map((k) => k.alg)).toEqual([ALG[code]]);
  }
  const [sm2] = ((await (await fetch(`${gws[HB].baseUrl}/.well-known/jwks.json`)).json()) as { keys: Record<string, string>[] }).keys;
  expect(sm2).toMatchObject({ kty: 'EC', crv: 'SM2', alg: 'SM2SM3', use: 'sig' });
  expect(Object.keys(sm2).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  // Peers hold 河北's key as an SM2SM3 key.
  const held = (await call<{ keys: { kid: string; alg: string }[] }>(gws[BJ], 'GET', `/admin/peers/${HB}`, undefined, gws[BJ].adminToken)).body.keys;
  expect(held).toEqual([expect.objectContaining({ kid: sm2.kid, alg: 'SM2SM3' })]);
});

const PAIRS = Object.keys(ALG).flatMap((asker) =>
  Object.keys(ALG)
    .filter((issuer) => issuer !== asker)
    .map((issuer) => [asker, issuer]),
);

it.each(PAIRS)("%s verifies a licence of %s: signed answer, attestation under the issuer's algorithm, checkable offline by the third", async (asker, issuer) => {
  const r = await call<VerificationResultBody>(gws[asker], 'POST', '/v1/verifications', verificationBody(demoLicence(issuer, 'VALID')));
  expect(r.status).toBe(200);
  expect(r.body.status).toBe('VALID');
  const attestation = r.body.attestation!;
  expect(headerOf(attestation).alg).toBe(ALG[issuer]);
  expect(await verifiesWithKeyOf(attestation, issuer)).toBe(true);
  const third = Object.keys(ALG).find((c) => c !== asker && c !== issuer)!;
  for (const checker of [asker, third]) {
    const check = await call<AttestationCheck>(gws[checker], 'POST', '/v1/attestations/verify', { attestation });
    expect(check.body).toMatchObject({ valid: true, kid: headerOf(attestation).kid });
    // The current status comes from the issuer's status list, signed with the issuer's algorithm and
    // verified by the checker (docs/protocol-status.md §4).
    expect(check.body.currentStatus).toMatchObject({ status: 'VALID', list: { fresh: true, source: expect.stringMatching(/^(issuer|cache)$/) } });
    expect(cachedListAlg(checker, issuer, check.body.currentStatus!.list!.id)).toBe(ALG[issuer]);
  }
  // A changed signature is refused by every checker, whatever the algorithm.
  const sig = Buffer.from(attestation.split('.')[2], 'base64url');
  sig[7] ^= 1;
  const forged = `${attestation.split('.').slice(0, 2).join('.')}.${sig.toString('base64url')}`;
  expect((await call(gws[third], 'POST', '/v1/attestations/verify', { attestation: forged })).body).toMatchObject({ valid: false, reason: 'BAD_SIGNATURE' });
});

it.each([HB, GD])("a licence of %s imported as REVOKED: its status list, signed with the issuer's algorithm, says REVOKED to every checker, though they cached that list before", async (issuer) => {
  const r = await call<VerificationResultBody>(gws[BJ], 'POST', '/v1/verifications', verificationBody(demoLicence(issuer, 'REVOKED')));
  expect(r.status).toBe(200);
  expect(r.body.status).toBe('REVOKED');
  const attestation = r.body.attestation!;
  for (const checker of Object.keys(ALG).filter((c) => c !== issuer)) {
    const check = (await call<AttestationCheck>(gws[checker], 'POST', '/v1/attestations/verify', { attestation })).body;
    expect(check).toMatchObject({ valid: true, claims: { status: 'REVOKED' }, currentStatus: { status: 'REVOKED', changedAt: expect.any(String), list: { fresh: true } } });
    expect(cachedListAlg(checker, issuer, check.currentStatus!.list!.id)).toBe(ALG[issuer]);
  }
});

// 多地联办 across every ordered pair: the first opens 户口迁移 as the destination, the second is the
// origin. Each side acknowledges the other's messages with a receipt under its own algorithm (and
// 河北's with an SM3 digest), which the test checks offline with the receiver's published key.
it.each(PAIRS)("a case opened at %s with origin %s completes on both sides; every message has a receipt under the receiver's algorithm", async (dest, origin) => {
  const { collaborationId } = await runHukouTransfer(gws[dest], gws[origin]);
  for (const [from, to] of [
    [dest, origin],
    [origin, dest],
  ]) {
    const delivered = await deliveredOn(gws[from], gws[to], collaborationId);
    for (const m of delivered) {
      const receipt = m.receipt!;
      expect(headerOf(receipt)).toMatchObject({ alg: ALG[to], typ: 'tongban-receipt+jwt' });
      expect(await verifiesWithKeyOf(receipt, to)).toBe(true);
      const claims = claimsOf(receipt);
      expect(claims).toMatchObject({ iss: to, aud: from, mid: m.id, stm: collaborationId, sta: 'ACCEPTED', dig: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
      // 河北 digests with SM3 and says so (docs/protocol.md §3.5); the others write SHA-256 and no `dal`.
      if (to === HB) expect(claims.dal).toBe('SM3');
      else expect(claims).not.toHaveProperty('dal');
    }
  }
});

it('peer policy: 北京 requires SM2SM3 from 河北 (accepted) and from 广东 (its ES256 calls and attestations refused with ALG_NOT_ALLOWED); bad lists are a 400; null lifts it', async () => {
  const patch = (code: string, body: unknown) => call<{ allowedAlgs: string[] | null }>(gws[BJ], 'PATCH', `/admin/peers/${code}`, body, gws[BJ].adminToken);
  const gdAttestation = (await call<VerificationResultBody>(gws[BJ], 'POST', '/v1/verifications', verificationBody(demoLicence(GD, 'VALID')))).body.attestation!;
  const bad = await call<{ error: { code: string; field: string } }>(gws[BJ], 'PATCH', `/admin/peers/${GD}`, { allowedAlgs: ['RS256'] }, gws[BJ].adminToken);
  expect(bad.status).toBe(400);
  expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: expect.stringMatching(/^allowedAlgs/) });
  expect((await call<{ status: number }>(gws[BJ], 'PATCH', `/admin/peers/${GD}`, { allowedAlgs: [] }, gws[BJ].adminToken)).status).toBe(400);

  expect((await patch(HB, { allowedAlgs: ['SM2SM3'] })).body.allowedAlgs).toEqual(['SM2SM3']);
  expect((await patch(GD, { allowedAlgs: ['SM2SM3'] })).body.allowedAlgs).toEqual(['SM2SM3']);
  expect((await call(gws[HB], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')))).status).toBe(200);
  const refused = await call<{ error: { code: string } }>(gws[GD], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')));
  expect(refused.status).not.toBe(200);
  expect(JSON.stringify(refused.body)).toContain('ALG_NOT_ALLOWED');
  expect((await call(gws[BJ], 'POST', '/v1/attestations/verify', { attestation: gdAttestation })).body).toMatchObject({ valid: false, reason: 'ALG_NOT_ALLOWED' });

  expect((await patch(GD, { allowedAlgs: null })).body.allowedAlgs).toBeNull();
  expect((await call(gws[GD], 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')))).status).toBe(200);
  expect((await call(gws[BJ], 'POST', '/v1/attestations/verify', { attestation: gdAttestation })).body).toMatchObject({ valid: true });
  await patch(HB, { allowedAlgs: null });
});

// The SM2 key attacks of the hostile corpus (test/fixtures/sm2/not-ok, jwk-*) sent to a real gateway's
// trust store: each is a 400 naming the rule, and nothing is trusted.
const CORPUS = join(ROOT, 'test', 'fixtures', 'sm2', 'not-ok');
const JWK_ATTACKS = readdirSync(CORPUS)
  .filter((f) => f.startsWith('jwk-'))
  .map((f) => JSON.parse(readFileSync(join(CORPUS, f), 'utf8')) as { name: string; jwk: Record<string, unknown>; expect: { code: string } });
// Where the request schema refuses before the SM2 checks, its rule is the named one.
const SCHEMA_RULE: Record<string, string> = { 'jwk-private-d': 'PRIVATE_KEY_MATERIAL', 'jwk-alg-sm2-bare': 'alg', 'jwk-crv-p256': 'KEY_MATERIAL' };

it.each(JWK_ATTACKS.map((a) => [a.name, a] as const))('trust store refuses the SM2 key attack %s by name', async (name, attack) => {
  const before = (await call<{ keys: unknown[] }>(gws[BJ], 'GET', `/admin/peers/${GD}`, undefined, gws[BJ].adminToken)).body.keys.length;
  const r = await call<{ error: { code: string; rule?: string; field?: string } }>(gws[BJ], 'POST', `/admin/peers/${GD}/keys`, attack.jwk, gws[BJ].adminToken);
  expect(r.status).toBe(400);
  expect(r.body.error.code).toBe('VALIDATION_FAILED');
  const expected = SCHEMA_RULE[name] ?? attack.expect.code;
  expect([r.body.error.rule, r.body.error.field]).toContain(expected);
  expect((await call<{ keys: unknown[] }>(gws[BJ], 'GET', `/admin/peers/${GD}`, undefined, gws[BJ].adminToken)).body.keys).toHaveLength(before);
});
