import { buildLicenceId, parseLicenceId } from '@tongban/identifiers';
import { Gateway, call, demoLicence, runCli, startFederation, verificationBody } from '@tongban/testkit';
import type { LicenceStatusView } from '@tongban/licences';
import type { AttestationCheck, VerificationResult } from '@tongban/verification';
import type { AuditBody, ErrorBody } from './support/bodies';

// Two real gateways (北京 issuer, 广东 asker) on SQLite, signed gRPC over mutual TLS. Status lists
// live 1 s (TONGBAN_STATUS_LIST_TTL_S), so 广东 fetches a newer list whenever it checks again.
const BJ = '110000';
const GD = '440000';

let gws: Record<string, Gateway>;
const checkAtGd = (attestation: string) => call<AttestationCheck>(gws[GD], 'POST', '/v1/attestations/verify', { attestation });

/** Checks until `done` holds (or the deadline passes: then the last answer is returned for the assertion to show). */
async function checkUntil(attestation: string, done: (c: AttestationCheck) => boolean, deadlineMs = 15_000): Promise<AttestationCheck> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const c = (await checkAtGd(attestation)).body;
    if (done(c) || Date.now() > until) return c;
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  const list = await startFederation([BJ, GD], { env: { TONGBAN_STATUS_LIST_TTL_S: '1' } });
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
}, 90_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

describe('licence status over time: signed status lists', () => {
  it('a kept attestation reads REVOKED after Beijing revokes the licence, and still does, from the cache, with Beijing down', async () => {
    const l = demoLicence(BJ, 'VALID');
    const verified = await call<VerificationResult>(gws[GD], 'POST', '/v1/verifications', verificationBody(l));
    expect(verified.status).toBe(200);
    const attestation = verified.body.attestation;

    const before = (await checkAtGd(attestation)).body;
    expect(before).toMatchObject({ valid: true, claims: { status: 'VALID', statusRef: { list: expect.stringMatching(new RegExp(`^${l.typeCode}-0$`)) } } });
    expect(before.currentStatus).toMatchObject({ status: 'VALID', changedAt: null, list: { source: 'issuer', fresh: true, ttlSeconds: 1 } });

    // Refusals first: a licence Beijing does not have (404 naming licenceId), a bad body (400 naming reason).
    const { typeCode, issuerCode, version } = parseLicenceId(l.licenceId);
    const missing = buildLicenceId({ typeCode, issuerCode, serial: 'NOSUCH0001', version });
    const unknown = await call<ErrorBody>(gws[BJ], 'POST', `/admin/licences/${missing}/revoke`, { reason: 'x' }, gws[BJ].adminToken);
    expect([unknown.status, unknown.body.error.code, unknown.body.error.field, unknown.body.error.rule]).toEqual([404, 'NOT_FOUND', 'licenceId', 'UNKNOWN_LICENCE']);
    expect(unknown.body.error.message).toContain(missing);
    const noReason = await call<ErrorBody>(gws[BJ], 'POST', `/admin/licences/${l.licenceId}/revoke`, {}, gws[BJ].adminToken);
    expect([noReason.status, noReason.body.error.code, noReason.body.error.field]).toEqual([400, 'VALIDATION_FAILED', 'reason']);

    const revokedAt = Date.now();
    const cli = await runCli(gws[BJ].options, ['licences', 'revoke', l.licenceId, '--reason', 'licence obtained by fraud']);
    expect(cli).toMatchObject({ code: 0, stderr: '' });
    expect(cli.stdout).toContain(`${l.licenceId}: REVOKED (was VALID), version 1`);
    const again = await call<ErrorBody>(gws[BJ], 'POST', `/admin/licences/${l.licenceId}/reinstate`, { reason: 'mistake' }, gws[BJ].adminToken);
    expect([again.status, again.body.error.code, again.body.error.rule]).toEqual([409, 'CONFLICT', 'REVOKED_IS_FINAL']);
    const shown = await call<LicenceStatusView>(gws[BJ], 'GET', `/admin/licences/${l.licenceId}/status`, undefined, gws[BJ].adminToken);
    expect(shown.body).toMatchObject({ status: 'REVOKED', version: 1 });
    const audited = (await call<AuditBody>(gws[BJ], 'GET', '/admin/audit?event=licence.status_changed', undefined, gws[BJ].adminToken)).body.events;
    expect(audited.map((e) => [e.subject, e.outcome, e.reason])).toEqual([
      [missing, 'REFUSED', 'UNKNOWN_LICENCE'],
      [l.licenceId, 'OK', 'licence obtained by fraud'],
      [l.licenceId, 'REFUSED', 'REVOKED_IS_FINAL'],
    ]);

    const after = await checkUntil(attestation, (c) => c.currentStatus?.status === 'REVOKED');
    expect(after).toMatchObject({ valid: true, claims: { status: 'VALID' }, currentStatus: { status: 'REVOKED', list: { source: 'issuer', fresh: true } } });
    const changedAt = Date.parse(after.currentStatus!.changedAt!);
    expect(changedAt).toBeGreaterThanOrEqual(Math.floor(revokedAt / 1000) * 1000 - 1000);
    expect(changedAt).toBeLessThanOrEqual(Date.now());
    expect(after.currentStatus!.list!.version).toBeGreaterThan(before.currentStatus!.list!.version);

    await gws[BJ].stop();
    const offline = await checkUntil(attestation, (c) => c.currentStatus?.list?.fresh === false);
    expect(offline.currentStatus).toMatchObject({ status: 'REVOKED', changedAt: after.currentStatus!.changedAt, reason: 'ISSUER_UNREACHABLE', list: { source: 'cache', fresh: false } });
    expect(offline.currentStatus!.list!.ageSeconds).toBeGreaterThan(offline.currentStatus!.list!.ttlSeconds);
    expect(Date.parse(offline.currentStatus!.statusCheckedAt)).toBeGreaterThan(Date.parse(offline.currentStatus!.list!.issuedAt));
  }, 90_000);

  it('an attestation without a status reference (NOT_FOUND) verifies as before, with no currentStatus', async () => {
    // Guangdong answers its own local query about a licence it does not have: no statusRef.
    const l = demoLicence(GD, 'VALID');
    const res = await call<VerificationResult>(gws[GD], 'POST', '/v1/verifications', verificationBody(l, { licenceNumber: 'NO-SUCH-1', licenceId: undefined, issuerProvince: GD }));
    expect([res.status, res.body.status]).toEqual([200, 'NOT_FOUND']);
    const c = (await checkAtGd(res.body.attestation)).body;
    expect(c.valid).toBe(true);
    expect(c.claims).not.toHaveProperty('statusRef');
    expect(c).not.toHaveProperty('currentStatus');
  });
});
