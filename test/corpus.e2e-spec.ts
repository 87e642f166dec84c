import Database from 'better-sqlite3';
import { join } from 'node:path';
import { compactVerify, importJWK, JWK } from 'jose';
import { randomUUID } from 'node:crypto';
import { DeliveryReceiptPayload, JwksPayload, StatusListPayload, VerifyLicencesPayload, VerifyLicencesResultPayload } from '@tongban/proto';
import { decodeStatusList, listedEntry, StatusListClaims } from '@tongban/licences';
import { REFUSAL_STATUS, RefusalCode } from '@tongban/federation';
import { call, demoLicence, FakePeer, Gateway, gatewayOptions, importDemoLicences, RawResult, startGateway } from '@tongban/testkit';
import type { AuditBody, CaseListBody, OutboxBody } from './support/bodies';
import { waitFor } from './support/wait';
import {
  announced,
  build,
  claimsOf,
  CONSUMES_ID,
  CorpusCase,
  dig,
  loadCorpus,
  noticeLicenceId,
  NotOkExpect,
  OkExpect,
  Parties,
  RESPONSE_TYPE,
  RPC_NAME,
  Rpc,
  sendRaw,
  Setup,
  signParts,
  statusName,
} from './support/corpus';

// Hostile-input corpus against ONE real gateway (北京 110000) over real gRPC. A scripted peer
// 天津 120000 is trusted with three keys (EdDSA, ES256 and SM2SM3). Each JSON file under
// test/fixtures/federation/{not-ok,ok}/ is one test: a new file is a new test. 天津 also holds an
// SM2SM3 key, so SM2 signatures (honest and hostile: DER, r or s out of range, the empty identity)
// reach the gateway as real envelopes. GetStatusList cases (getstatuslist-*) ask for status lists
// (docs/protocol-status.md §3); notice cases (deliver-notice-*) deliver LicenceStatusChanged bodies
// to the gateway as the asker (docs/protocol-notices.md §2), some about a licence it subscribed to.
//
// For every refusal we check the gRPC status, the `tongban-refusal` trailer, that the status
// message starts with the code, that exactly one `federation.request.refused` audit row with that
// reason (and the claimed jti) was written, and that nothing was accepted or changed: no new
// `federation.request.accepted`, no outbox / case / inbox row, no trust-store change, and the
// message id consumed only for the refusals the protocol says consume it (§4.2).
//
// Exempt from the audit and trailer checks (expect.refusal = null): rejections by grpc-js before
// the envelope layer runs — a request message over the server's receive limit
// (2 × maxPayloadBytes + 64 KiB, grpc-server.options.ts), and a wrapper message that does not
// deserialise (INTERNAL "Error deserializing request"). docs/protocol.md §4.1 says these leave no
// audit record. Files in ok/ with `knownIssue` pin today's behaviour where it looks wrong.

const BJ = '110000';
const TJ = '120000';

const notOk = loadCorpus('not-ok');
const ok = loadCorpus('ok');

let gw: Gateway;
let parties: Parties;
let gatewayKeys: Map<string, JWK>;

const admin = <T = unknown>(method: string, path: string, body?: unknown) => call<T>(gw, method, path, body, gw.adminToken);
const sqlitePath = () => join(gw.options.dir, `tongban-${BJ}.sqlite`);

function db<T>(fn: (d: Database.Database) => T, readonly = true): T {
  const d = new Database(sqlitePath(), { readonly, fileMustExist: true, timeout: 5000 });
  try {
    return fn(d);
  } finally {
    d.close();
  }
}

beforeAll(async () => {
  // Every refusal gets its own audit row here (no aggregation window, a budget the corpus cannot
  // spend): the corpus checks each one; test/refusal-storm.e2e-spec.ts checks the limits.
  const options = await gatewayOptions(BJ, { env: { TONGBAN_REFUSAL_AUDIT_WINDOW_S: '0', TONGBAN_REFUSAL_BURST: '1000000' } });
  await importDemoLicences(options);
  gw = await startGateway(options);
  const [ed, es, sm2, impostor] = await Promise.all([FakePeer.create(TJ, 'EdDSA'), FakePeer.create(TJ, 'ES256'), FakePeer.create(TJ, 'SM2SM3'), FakePeer.create(TJ, 'EdDSA')]);
  const added = await admin<{ keys: { alg: string }[] }>('POST', '/admin/peers', { code: TJ, endpoint: '127.0.0.1:1', keys: [ed.jwk(), es.jwk(), sm2.jwk()] });
  expect(added.status).toBe(201);
  expect(added.body.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'EdDSA', 'SM2SM3']);
  const l = demoLicence(BJ, 'VALID');
  parties = {
    self: TJ,
    gateway: BJ,
    ed,
    es,
    sm2,
    impostor,
    stranger: (code) => FakePeer.create(code),
    demoQuery: { queryId: 'q1', licenceType: l.typeCode, licenceId: l.licenceId, licenceNumber: '', holder: undefined, purpose: '跨省通办业务办理核验', notifyRef: '' },
  };
  const jwks = (await (await fetch(`${gw.baseUrl}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
  gatewayKeys = new Map(jwks.keys.map((k) => [k.kid!, k]));
  // One honest verification opens the status list of the demo licence's type (list 0), which the
  // GetStatusList cases ask for.
  const opened = await build({ file: 'prime.json', kind: 'ok', name: 'prime', description: '', rpc: 'verifyLicences', expect: { ok: true }, attack: {} }, parties);
  expect((await FakePeer.send(gw.grpcEndpoint, 'verifyLicences', opened.envelope)).code).toBeUndefined();
}, 60_000);

afterAll(async () => {
  await gw?.stop();
});

/** Everything a hostile message must not change, read through the admin API and the database. */
async function snapshot() {
  const [accepted, refused, outbox, cases, peers] = await Promise.all([
    admin<AuditBody>('GET', '/admin/audit?event=federation.request.accepted&limit=1000'),
    admin<AuditBody>('GET', '/admin/audit?event=federation.request.refused&limit=1000'),
    admin<OutboxBody>('GET', '/admin/outbox?limit=1000'),
    call<CaseListBody>(gw, 'GET', '/v1/cases?limit=1000'),
    admin<{ peers: unknown }>('GET', '/admin/peers'),
  ]);
  const refusedEvents = refused.body.events;
  const rows = db((d) => ({
    inbox: (d.prepare('SELECT COUNT(*) AS n FROM inbox_messages').get() as { n: number }).n,
    peerKeys: d.prepare('SELECT peer_code, kid, status, retired_at FROM peer_keys ORDER BY peer_code, kid').all(),
    casesInDb: (d.prepare('SELECT COUNT(*) AS n FROM cases').get() as { n: number }).n,
  }));
  return {
    accepted: accepted.body.events.length,
    lastRefusedSeq: refusedEvents.length ? refusedEvents[refusedEvents.length - 1].seq : 0,
    outbox: outbox.body.messages.length,
    cases: cases.body.cases.length,
    peers: JSON.stringify(peers.body.peers),
    ...rows,
  };
}

async function refusedSince(seq: number) {
  const res = await admin<AuditBody>('GET', `/admin/audit?event=federation.request.refused&limit=1000&after=${seq}`);
  return res.body.events;
}

/** Unexpected errors the gateway logged (RpcErrorFilter: `[RpcError] [<correlation id>] <stack>`). */
function internalErrors(): number {
  return (gw.output().match(/RpcError\S*\s+\S*\[[0-9a-f-]{36}\]/g) ?? []).length;
}

function seen(sender: string, jti: string): boolean {
  return db((d) => !!d.prepare('SELECT 1 FROM seen_messages WHERE sender = ? AND message_id = ?').get(sender, jti));
}

/** Applies `setup` through the admin API; returns how to undo it. */
async function applySetup(s: Setup | undefined): Promise<() => Promise<void>> {
  const undo: (() => Promise<unknown>)[] = [];
  parties.setupKey = undefined;
  if (s?.keyStatus) {
    // A key of its own for this case, so that the peer's two keys never change status.
    const key = await FakePeer.create(TJ);
    expect((await admin('POST', `/admin/peers/${TJ}/keys`, key.jwk())).status).toBe(201);
    expect((await admin('PATCH', `/admin/peers/${TJ}/keys/${key.kid}`, { status: s.keyStatus })).status).toBe(200);
    if (s.announcedRetiredAgoSeconds !== undefined) {
      // As a KeyAnnouncement would have retired it (docs/protocol.md §15.4): written behind the
      // gateway's back, then it is made to reload.
      const retiredAt = Date.now() - s.announcedRetiredAgoSeconds * 1000;
      db((d) => d.prepare('UPDATE peer_keys SET retired_at = ?, envelopes_until = ? WHERE peer_code = ? AND kid = ?').run(retiredAt, retiredAt + 360_000, TJ, key.kid), false);
      expect((await admin('PATCH', `/admin/peers/${TJ}`, {})).status).toBe(200);
    }
    parties.setupKey = key;
    // Afterwards the throwaway key is revoked, so it can never sign again.
    if (s.keyStatus !== 'REVOKED') undo.push(() => admin('PATCH', `/admin/peers/${TJ}/keys/${key.kid}`, { status: 'REVOKED' }));
  }
  if (s?.peerStatus) {
    expect((await admin('PATCH', `/admin/peers/${TJ}`, { status: s.peerStatus })).status).toBe(200);
    undo.push(() => admin('PATCH', `/admin/peers/${TJ}`, { status: 'ACTIVE' }));
  }
  if (s?.allowedLicenceTypes) {
    expect(s.allowedLicenceTypes).not.toContain(parties.demoQuery.licenceType);
    expect((await admin('PATCH', `/admin/peers/${TJ}`, { allowedLicenceTypes: s.allowedLicenceTypes })).status).toBe(200);
    undo.push(() => admin('PATCH', `/admin/peers/${TJ}`, { allowedLicenceTypes: ['*'] }));
  }
  if (s?.rateLimitPerSecond) {
    expect((await admin('PATCH', `/admin/peers/${TJ}`, { rateLimitPerSecond: s.rateLimitPerSecond })).status).toBe(200);
    undo.push(() => admin('PATCH', `/admin/peers/${TJ}`, { rateLimitPerSecond: null }));
  }
  if (s?.allowedItems) {
    expect((await admin('PATCH', `/admin/peers/${TJ}`, { allowedItems: s.allowedItems })).status).toBe(200);
    undo.push(() => admin('PATCH', `/admin/peers/${TJ}`, { allowedItems: ['*'] }));
  }
  if (s?.noticeSubscription) {
    // As a verification with notify: true would have left it at the asker (docs/protocol-notices.md §5).
    const licenceId = noticeLicenceId(s.noticeSubscription, parties);
    const id = randomUUID();
    const now = Date.now();
    db(
      (d) =>
        d
          .prepare('INSERT INTO notice_subscriptions (id, client, issuer, licence_id, licence_type, origin, created_at, expires_at, last_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)')
          .run(id, 'corpus-client', TJ, licenceId, licenceId.split('.')[5], 'VERIFICATION', now, now + 86_400_000),
      false,
    );
    parties.subscriptionId = id;
    undo.push(async () => {
      db((d) => d.prepare('DELETE FROM notice_subscriptions WHERE id = ?').run(id), false);
      return { status: 200 };
    });
  }
  if (s?.allowedRoles) {
    expect((await admin('PATCH', `/admin/peers/${TJ}`, { allowedRoles: s.allowedRoles })).status).toBe(200);
    undo.push(() => admin('PATCH', `/admin/peers/${TJ}`, { allowedRoles: ['*'] }));
  }
  return async () => {
    for (const u of undo.reverse()) {
      const r = (await u()) as { status: number };
      expect(r.status).toBe(200);
    }
  };
}

/** Sends the primes (honest messages the attack builds on), then the attack. */
async function run(c: CorpusCase) {
  const built = await build(c, parties);
  for (const prime of built.primes) {
    const r = await FakePeer.send(gw.grpcEndpoint, prime.rpc, prime.envelope);
    expect({ prime: c.file, code: r.code, details: r.details }).toEqual({ prime: c.file, code: undefined, details: undefined });
  }
  const before = await snapshot();
  const internalErrorsBefore = internalErrors();
  const res: RawResult = built.raw ? await sendRaw(gw.grpcEndpoint, built.rpc, built.raw, built.tls) : await FakePeer.send(gw.grpcEndpoint, built.rpc, built.envelope, built.tls);
  const after = await snapshot();
  // Hostile input is refused or answered, never an unexpected error (logged by RpcErrorFilter).
  expect(internalErrors()).toBe(internalErrorsBefore);
  return { built, res, before, after };
}

/** Checks a response envelope the way a careful requester would (§3.9). */
async function checkResponse(rpc: Rpc, requestJti: string, sender: string, envelope: { jws: string; payload: Uint8Array }) {
  const header = JSON.parse(Buffer.from(envelope.jws.split('.')[0], 'base64url').toString()) as { kid: string; alg: string };
  const jwk = gatewayKeys.get(header.kid);
  expect(jwk).toBeDefined();
  await compactVerify(envelope.jws, await importJWK(jwk!, header.alg), { algorithms: [header.alg] });
  const claims = claimsOf(envelope.jws);
  expect(claims).toMatchObject({ ver: 1, iss: BJ, aud: sender, mty: RESPONSE_TYPE[rpc], rto: requestJti, dig: dig(envelope.payload) });
}

const signerCode = (c: CorpusCase) => (c.attack.signer === 'stranger' ? (c.attack.strangerCode ?? '150000') : ((c.attack.claims?.iss as string | undefined) ?? TJ));

describe('the corpus', () => {
  it('has at least 28 refusal cases and 2 accepted ones, with unique names', () => {
    expect(notOk.length).toBeGreaterThanOrEqual(28);
    expect(ok.length).toBeGreaterThanOrEqual(2);
    const names = [...notOk, ...ok].map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const c of [...notOk, ...ok]) expect(`${c.name}.json`).toBe(c.file);
  });

  it('expects, for each refusal, the gRPC status refusal.ts sends for that code (and docs/protocol.md §4.2 gives)', () => {
    for (const c of notOk) {
      const e = c.expect as NotOkExpect;
      if (e.refusal !== null) expect({ file: c.file, status: e.grpcStatus }).toEqual({ file: c.file, status: statusName(REFUSAL_STATUS[e.refusal as RefusalCode]) });
    }
  });
});

describe('hostile messages are refused, recorded, and change nothing', () => {
  it.each(notOk.map((c) => [c.file, c] as const))('%s', async (_file, c) => {
    const e = c.expect as NotOkExpect;
    const restore = await applySetup(c.setup);
    try {
      const { built, res, before, after } = await run(c);

      // (a) status and refusal code
      expect({ status: statusName(res.code), refusal: res.refusal || null }).toEqual({ status: e.grpcStatus, refusal: e.refusal });
      expect(res.envelope).toBeUndefined();
      if (e.refusal) expect(res.details).toMatch(new RegExp(`^${e.refusal}: `));

      // (b) nothing accepted, nothing changed
      expect(after.accepted).toBe(before.accepted);
      expect({ outbox: after.outbox, cases: after.cases, casesInDb: after.casesInDb, inbox: after.inbox }).toEqual({
        outbox: before.outbox,
        cases: before.cases,
        casesInDb: before.casesInDb,
        inbox: before.inbox,
      });
      expect(after.peerKeys).toEqual(before.peerKeys);
      expect(after.peers).toBe(before.peers);
      if (c.setup?.noticeSubscription) {
        // A refused envelope's notice is never applied.
        expect(db((d) => d.prepare('SELECT last_version AS v FROM notice_subscriptions WHERE id = ?').get(parties.subscriptionId))).toEqual({ v: 0 });
      }
      if (built.jti) {
        // The id is consumed only by refusals after the replay insert (§4.2); REPLAYED: by the prime.
        expect(seen(signerCode(c), built.jti)).toBe(e.refusal !== null && CONSUMES_ID.has(e.refusal));
      }

      // (c) the refusal is in the audit trail (transport-level rejections never reach it)
      const audited = await refusedSince(before.lastRefusedSeq);
      if (e.refusal === null) {
        expect(audited).toEqual([]);
      } else {
        expect(audited).toHaveLength(1);
        expect(audited[0]).toMatchObject({ subject: RPC_NAME[built.rpc], outcome: 'REFUSED', reason: e.refusal });
        // The claimed jti is recorded once the JWS parsed (from step 6 on); before that there is none.
        if (e.auditMessageId === null) expect(audited[0].messageId).toBeNull();
        else if (built.jti) expect(audited[0].messageId).toBe(built.jti);
        if (e.auditActor) expect(audited[0].actor).toBe(e.auditActor);
      }
    } finally {
      await restore();
    }
  });
});

describe('honest (or tolerated) messages are answered', () => {
  it.each(ok.map((c) => [c.knownIssue ? `${c.file} [pins a KNOWN ISSUE]` : c.file, c] as const))('%s', async (_title, c) => {
    const e = c.expect as OkExpect;
    const restore = await applySetup(c.setup);
    try {
      const { built, res, before, after } = await run(c);
      expect({ code: res.code, refusal: res.refusal, details: res.details }).toEqual({ code: undefined, refusal: undefined, details: undefined });
      const envelope = res.envelope!;
      await checkResponse(built.rpc, built.jti!, signerCode(c), envelope);
      expect(after.accepted).toBe(before.accepted + 1);
      expect(await refusedSince(before.lastRefusedSeq)).toEqual([]);
      expect(seen(signerCode(c), built.jti!)).toBe(true);
      expect({ outbox: after.outbox, cases: after.cases, casesInDb: after.casesInDb }).toEqual({ outbox: before.outbox, cases: before.cases, casesInDb: before.casesInDb });

      if (built.rpc === 'verifyLicences') {
        const result = VerifyLicencesResultPayload.decode(envelope.payload);
        expect(result.results).toHaveLength(1);
        expect(result.results[0].status).toBe(e.licenceStatus ?? 'LICENCE_STATUS_VALID');
        expect(result.results[0].queryId).toBe(e.queryIdEchoed ?? 'q1');
        expect(result.results[0].attestation.split('.')).toHaveLength(3);
      }
      if (built.rpc === 'getStatusList') {
        // The list a careful asker would accept (docs/protocol-status.md §4 step 2).
        const answer = StatusListPayload.decode(envelope.payload);
        const header = JSON.parse(Buffer.from(answer.statusListJws.split('.')[0], 'base64url').toString()) as { kid: string; alg: string; typ: string };
        expect(header.typ).toBe('tongban-status-list+jwt');
        await compactVerify(answer.statusListJws, await importJWK(gatewayKeys.get(header.kid)!, header.alg), { algorithms: [header.alg] });
        const lc = claimsOf(answer.statusListJws) as unknown as StatusListClaims;
        expect(lc).toMatchObject({ iss: BJ, sub: answer.listId, ver: answer.version, licenceType: parties.demoQuery.licenceType, size: 131072, statusSize: 2 });
        expect(answer.listId).toBe(c.attack.listId ?? `${parties.demoQuery.licenceType}-0`);
        expect(listedEntry(decodeStatusList(lc), 0).status).toMatch(/^(VALID|SUSPENDED|REVOKED)$/);
      }
      if (built.rpc === 'getJwks') {
        const jwks = JSON.parse(JwksPayload.decode(envelope.payload).jwksJson) as { keys: JWK[] };
        expect(jwks.keys.map((k) => k.kid).sort()).toEqual([...gatewayKeys.keys()].sort());
        expect(jwks.keys.every((k) => !('d' in k))).toBe(true);
      }
      if (built.rpc === 'deliver') {
        const receipt = DeliveryReceiptPayload.decode(envelope.payload).receipt;
        const header = JSON.parse(Buffer.from(receipt.split('.')[0], 'base64url').toString()) as { kid: string; alg: string };
        await compactVerify(receipt, await importJWK(gatewayKeys.get(header.kid)!, header.alg));
        const rc = claimsOf(receipt);
        expect(rc).toMatchObject({ iss: BJ, aud: TJ, mid: built.deliveryMessageId, sta: e.receipt ?? 'ACCEPTED' });
        if (e.receiptReason) expect(String(rc.rsn)).toContain(e.receiptReason);
        // docs/protocol-notices.md §2: a refused notice's rsn starts with its code.
        if (e.noticeAudit?.outcome === 'REFUSED') expect(String(rc.rsn)).toMatch(new RegExp(`^${e.noticeAudit.reason}: `));
        if (e.subscriptionAfter) {
          const row = db((d) => d.prepare('SELECT last_version AS lastVersion, last_status AS lastStatus FROM notice_subscriptions WHERE id = ?').get(parties.subscriptionId));
          expect(row).toEqual(e.subscriptionAfter);
        }
        if (e.noticeAudit) {
          // AuditLog.record is batched: wait for the row of this message.
          const rows = await waitFor(
            'licence.notice.received',
            async () => (await admin<AuditBody>('GET', '/admin/audit?event=licence.notice.received&limit=1000')).body.events.filter((r) => r.messageId === built.deliveryMessageId),
            (r) => r.length > 0,
          );
          expect(rows).toEqual([expect.objectContaining({ actor: TJ, outcome: e.noticeAudit.outcome, reason: e.noticeAudit.reason })]);
        }
        expect(after.inbox).toBe(before.inbox + 1);
      } else {
        expect(after.inbox).toBe(before.inbox);
      }
      // A message answered with a REJECTED receipt, or a verification, leaves the trust store alone
      // (unless the file pins a known issue where it does not).
      const added = (after.peerKeys as { kid: string; status: string }[]).filter((k) => !(before.peerKeys as { kid: string }[]).some((b) => b.kid === k.kid));
      expect(added).toHaveLength(e.keyRowsAdded ?? 0);
      if (!e.keyRowsAdded) expect(after.peerKeys).toEqual(before.peerKeys);
      expect(after.peers).toBe(before.peers);
      if (e.keyRowsAdded) {
        // Pinned consequence: the key of the REJECTED announcement is trusted once the snapshot
        // reloads (any admin change reloads it), without a trust.peer.key.announced audit row.
        expect(added[0]).toMatchObject({ kid: announced.kid, status: 'ACTIVE' });
        expect((await admin('PATCH', `/admin/peers/${TJ}`, {})).status).toBe(200);
        const peer = (await admin<{ keys: { kid: string; status: string }[] }>('GET', `/admin/peers/${TJ}`)).body;
        expect(peer.keys.find((k) => k.kid === announced.kid)).toMatchObject({ status: 'ACTIVE' });
        expect((await admin<AuditBody>('GET', '/admin/audit?event=trust.peer.key.announced&limit=1000')).body.events).toEqual([]);
        // …and the sender, told REJECTED, can sign requests with that key, which are accepted.
        const rogue = { alg: 'EdDSA', kid: announced.kid, code: TJ, privateKey: announced.privateKey } as unknown as FakePeer;
        const payload = VerifyLicencesPayload.encode({ queries: [parties.demoQuery] }).finish();
        const now = Math.floor(Date.now() / 1000);
        const jws = signParts(
          rogue,
          { alg: 'EdDSA', kid: announced.kid, typ: 'tongban-envelope+jws' },
          { ver: 1, iss: TJ, aud: BJ, mty: 'tongban.federation.v1.VerifyLicencesPayload', jti: randomUUID(), iat: now, exp: now + 120, dig: dig(payload) },
        );
        const accepted = await FakePeer.send(gw.grpcEndpoint, 'verifyLicences', { jws, payload: Buffer.from(payload) });
        expect({ code: accepted.code, refusal: accepted.refusal }).toEqual({ code: undefined, refusal: undefined });
        // Clean up: the key must not be usable by later cases.
        expect((await admin('PATCH', `/admin/peers/${TJ}/keys/${announced.kid}`, { status: 'REVOKED' })).status).toBe(200);
      }
    } finally {
      await restore();
    }
  });
});
