import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway, GatewayOptions, TestPki, call, demoLicence, gatewayOptions, importDemoLicences, startGateway, verificationBody } from '@tongban/testkit';
import type { AuditBody, ErrorBody, OutboxBody, VerificationResultBody } from './support/bodies';
import { waitFor } from './support/wait';
import { cliOk, directoryEntry, publishDirectory } from './support/directory';

// Peer keys and their announcements between real gateways that learn each other from a signed
// directory (docs/protocol.md §6.4 and §15): a key an administrator retires signs no envelope,
// overlapping rotations end with one active key, and a revocation learnt from the directory
// before its announcement arrives does not block the ordered `keys` stream.
const BJ = '110000';
const HB = '130000';
const FAST = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '400', TONGBAN_DELIVERY_POLL_MS: '100' };

type Key = { kid: string; status: string; jwk: Record<string, unknown> };
let dir: string;
let cli: GatewayOptions;
let gws: Record<string, Gateway>;
let serial = 0;
let tlsCa: string;

const admin = <T = unknown>(gw: Gateway, method: string, path: string, body?: unknown) => call<T>(gw, method, path, body, gw.adminToken);
const ownKeys = async (gw: Gateway) => (await admin<{ keys: Key[] }>(gw, 'GET', '/admin/keys')).body.keys;
const peerKeys = async (gw: Gateway, code: string) => (await admin<{ keys?: Key[] }>(gw, 'GET', `/admin/peers/${code}`)).body.keys ?? [];
const statusOf = (keys: Key[]) => Object.fromEntries(keys.map((k) => [k.kid, k.status]));
const verify = (from: Gateway, issuer: string) => call<VerificationResultBody & Partial<ErrorBody>>(from, 'POST', '/v1/verifications', verificationBody(demoLicence(issuer, 'VALID')));
/** The `keys` stream from `gw` to `peer` as the sender's outbox shows it. */
const keyStream = async (gw: Gateway, peer: string) => (await admin<OutboxBody>(gw, 'GET', '/admin/outbox?limit=1000')).body.messages.filter((m) => m.peer === peer && m.stream === 'keys');

/** Publishes the directory; every participant is pinned to the test CA (directory mode refuses unpinned ones). */
async function publish(participants: Record<string, unknown>[]): Promise<void> {
  participants = participants.map((p) => ({ tlsCa, ...p }));
  await publishDirectory(cli, { format: 'tongban-directory/1', serial: ++serial, participants } as never, { dir, key: join(dir, 'anchor.jwk'), source: join(dir, 'directory.jws') });
  for (const gw of Object.values(gws))
    await waitFor(
      `${gw.code} applies directory ${serial}`,
      async () => (await admin<{ serial: number | null }>(gw, 'GET', '/admin/directory')).body,
      (s) => s.serial === serial,
    );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tongban-e2e-key-trust-'));
  const env = { ...FAST, TONGBAN_DIRECTORY_ANCHOR: join(dir, 'anchor.pub.jwk'), TONGBAN_DIRECTORY_SOURCE: join(dir, 'directory.jws'), TONGBAN_DIRECTORY_REFRESH_S: '1' };
  const options = await Promise.all([BJ, HB].map((code) => gatewayOptions(code, { env })));
  cli = options[0];
  tlsCa = (await TestPki.get()).caPem;
  await cliOk(cli, ['directory', 'keygen', '--out', join(dir, 'anchor.jwk'), '--public-out', join(dir, 'anchor.pub.jwk')]);
  await Promise.all(options.map(importDemoLicences));
  gws = Object.fromEntries((await Promise.all(options.map(startGateway))).map((g) => [g.code, g]));
  await publish([await directoryEntry(gws[BJ], '北京市'), await directoryEntry(gws[HB], '河北省')]);
  expect((await verify(gws[HB], BJ)).status).toBe(200);
  expect((await verify(gws[BJ], HB)).status).toBe(200);
}, 90_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

it('a peer key an administrator sets RETIRED is refused for envelopes at once (KEY_RETIRED), and accepted again when reactivated', async () => {
  const [bjKey] = (await ownKeys(gws[BJ])).filter((k) => k.status === 'ACTIVE');
  // An attestation 北京 signed with that key, held by 河北.
  const attestation = (await verify(gws[HB], BJ)).body.attestation;
  expect((await admin(gws[HB], 'PATCH', `/admin/peers/${BJ}/keys/${bjKey.kid}`, { status: 'RETIRED' })).status).toBe(200);
  // Before the fix the key stayed acceptable for 360 s after the PATCH and this call succeeded.
  const refused = await verify(gws[BJ], HB);
  expect(refused.status).toBe(502);
  expect(refused.body.error).toMatchObject({ code: 'ISSUER_REJECTED', reason: 'KEY_RETIRED' });
  const audited = (await admin<AuditBody>(gws[HB], 'GET', '/admin/audit?event=federation.request.refused&limit=1000')).body.events;
  expect(audited.at(-1)).toMatchObject({ actor: `claimed:${BJ}`, subject: 'VerifyLicences', reason: 'KEY_RETIRED' });
  // What the key signed before stays checkable.
  expect((await call(gws[HB], 'POST', '/v1/attestations/verify', { attestation })).body).toMatchObject({ valid: true, kid: bjKey.kid });
  expect((await admin(gws[HB], 'PATCH', `/admin/peers/${BJ}/keys/${bjKey.kid}`, { status: 'ACTIVE' })).status).toBe(200);
  expect((await verify(gws[BJ], HB)).status).toBe(200);
});

it('two overlapping rotations end with exactly one ACTIVE key, the newest; the peer follows and calls keep working', async () => {
  const [old] = (await ownKeys(gws[BJ])).filter((k) => k.status === 'ACTIVE');
  const first = (await admin<{ keys: Key[] }>(gws[BJ], 'POST', '/admin/keys/rotate', { overlapHours: 0.0005 })).body.keys.find((k) => k.status === 'NEXT')!;
  const second = (await admin<{ keys: Key[] }>(gws[BJ], 'POST', '/admin/keys/rotate', { overlapHours: 0.0005 })).body.keys.find((k) => k.status === 'NEXT' && k.kid !== first.kid)!;
  expect(first && second).toBeTruthy();
  const mine = await waitFor(
    '北京 promotes its due keys',
    () => ownKeys(gws[BJ]),
    (ks) => !ks.some((k) => k.status === 'NEXT'),
    30_000,
  );
  // Before the fix both NEXT keys became ACTIVE.
  expect(mine.filter((k) => k.status === 'ACTIVE').map((k) => k.kid)).toEqual([second.kid]);
  expect(statusOf(mine)).toMatchObject({ [old.kid]: 'RETIRED', [first.kid]: 'RETIRED', [second.kid]: 'ACTIVE' });
  const theirs = await waitFor(
    '河北 follows',
    () => peerKeys(gws[HB], BJ),
    (ks) => ks.some((k) => k.kid === first.kid && k.status === 'RETIRED') && ks.some((k) => k.kid === old.kid && k.status === 'RETIRED'),
  );
  expect(statusOf(theirs)).toMatchObject({ [old.kid]: 'RETIRED', [first.kid]: 'RETIRED', [second.kid]: 'ACTIVE' });
  const r = await verify(gws[HB], BJ);
  expect(r.status).toBe(200);
  expect((await call(gws[HB], 'POST', '/v1/attestations/verify', { attestation: r.body.attestation })).body).toMatchObject({ valid: true, kid: second.kid });
  expect((await verify(gws[BJ], HB)).status).toBe(200);
});

it('a revocation learnt from the directory before its announcement: the announcement is acknowledged and later key messages still flow', async () => {
  // Hold 北京's announcements to 河北 back: 河北 is suspended in 北京's trust store for a while.
  expect((await admin(gws[BJ], 'PATCH', `/admin/peers/${HB}`, { status: 'SUSPENDED' })).status).toBe(200);
  const [compromised] = (await ownKeys(gws[BJ])).filter((k) => k.status === 'ACTIVE');
  const revoked = await admin<{ keys: Key[] }>(gws[BJ], 'POST', `/admin/keys/${compromised.kid}/revoke`, { reason: 'suspected compromise' });
  expect(revoked.status).toBe(200);
  const replacement = revoked.body.keys.find((k) => k.status === 'ACTIVE')!;
  // The national platform publishes the revocation and the replacement; 河北 learns them there first.
  const bj = await directoryEntry(gws[BJ], '北京市');
  await publish([
    {
      ...bj,
      keys: [
        { kid: compromised.kid, jwk: compromised.jwk, status: 'REVOKED' },
        { kid: replacement.kid, jwk: replacement.jwk, status: 'ACTIVE' },
      ],
    },
    await directoryEntry(gws[HB], '河北省'),
  ]);
  expect(statusOf(await peerKeys(gws[HB], BJ))).toMatchObject({ [compromised.kid]: 'REVOKED', [replacement.kid]: 'ACTIVE' });
  const pending = await keyStream(gws[BJ], HB);
  expect(pending.filter((m) => m.status === 'PENDING').length).toBeGreaterThanOrEqual(2);

  // Let the announcements go. The replacement's was sealed with the revoked key (the only one a peer
  // without the directory trusts): 河北 refuses that envelope with KEY_REVOKED, 北京 re-seals it
  // with its active key, and 河北 acknowledges a state it already holds. Before the fix the
  // revocation itself was signed by the revoked key and refused forever, blocking the stream.
  expect((await admin(gws[BJ], 'PATCH', `/admin/peers/${HB}`, { status: 'ACTIVE' })).status).toBe(200);
  await waitFor(
    'the keys stream to 河北 is delivered',
    () => keyStream(gws[BJ], HB),
    (ms) => ms.every((m) => m.status === 'DELIVERED'),
    30_000,
  );
  const delivered = await keyStream(gws[BJ], HB);
  expect(delivered.filter((m) => m.lastError?.startsWith('rejected'))).toEqual([]);

  // A later key message on the same stream still flows: an immediate rotation reaches 河北.
  const rotated = await admin<{ keys: Key[] }>(gws[BJ], 'POST', '/admin/keys/rotate', { immediate: true });
  const next = rotated.body.keys.find((k) => k.status === 'ACTIVE')!;
  expect(next.kid).not.toBe(replacement.kid);
  const theirs = await waitFor(
    '河北 learns the next rotation through the stream',
    () => peerKeys(gws[HB], BJ),
    (ks) => ks.some((k) => k.kid === next.kid && k.status === 'ACTIVE') && ks.some((k) => k.kid === replacement.kid && k.status === 'RETIRED'),
  );
  expect(statusOf(theirs)).toMatchObject({ [compromised.kid]: 'REVOKED' });
  expect((await verify(gws[HB], BJ)).status).toBe(200);
  expect((await verify(gws[BJ], HB)).status).toBe(200);
});
