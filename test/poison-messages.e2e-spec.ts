import Database from 'better-sqlite3';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { CaseEventNote, CaseOpened } from '@tongban/proto';
import { Gateway, TEST_PG_URL, call, connectAll, dropFederationSchemas, gatewayOptions, importDemoLicences, startGateway } from '@tongban/testkit';
import type { CaseBody, CaseListBody, ErrorBody, OutboxBody } from './support/bodies';
import { waitFor } from './support/wait';

// Issue 9 item 4: text one backend cannot store is refused at the edge of every backend, and a
// message a peer refuses the same way every time ends as DEAD (visible, counted, re-queueable)
// instead of looping for the whole dead-letter age. BJ runs on SQLite, HB on PostgreSQL.
const BJ = '110000';
const HB = '130000';
const DEAD_AFTER = 3;
const ENV = {
  TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50',
  TONGBAN_DELIVERY_BACKOFF_CAP_MS: '200',
  TONGBAN_DELIVERY_POLL_MS: '100',
  TONGBAN_DELIVERY_DEAD_AFTER_FAILURES: String(DEAD_AFTER),
};
const NOTE = 'tongban.cases.v1.CaseEventNote';

function hukou(destination: string, origin: string, name = '李四') {
  return {
    itemCode: 'HUKOU_SPOUSE',
    applicant: { name, idNumber: '11010519491231002X' },
    participants: { DESTINATION: destination, ORIGIN: origin },
    materials: [{ code: 'HOUSEHOLD_REGISTERS' }, { code: 'RESIDENT_ID_CARD' }, { code: 'MARRIAGE_CERTIFICATE' }],
    receivedAt: { office: '政务服务中心', clerk: '赵窗口', channel: 'WINDOW' },
  };
}

const pg = process.env.TEST_PG_AVAILABLE === '1' ? describe : describe.skip;
pg('poison messages: refused at the edge on SQLite and PostgreSQL; a permanent peer refusal ends DEAD and is re-queueable', () => {
  let bj: Gateway;
  let hb: Gateway;
  let sqlite: Database.Database;

  beforeAll(async () => {
    const bjOptions = await gatewayOptions(BJ, { env: ENV });
    const hbOptions = await gatewayOptions(HB, { databaseUrl: TEST_PG_URL, env: { ...ENV, TONGBAN_DATABASE_SCHEMA: `e2e_poison_${Date.now().toString(36)}` } });
    await Promise.all([bjOptions, hbOptions].map(importDemoLicences));
    [bj, hb] = await Promise.all([startGateway(bjOptions), startGateway(hbOptions)]);
    await connectAll([bj, hb]);
    // The test writes into BJ's outbox directly, as only a broken or older sender would.
    sqlite = new Database(join(bjOptions.dir, `tongban-${BJ}.sqlite`));
    sqlite.pragma('busy_timeout = 10000');
  }, 90_000);

  afterAll(async () => {
    sqlite?.close();
    await Promise.all([bj, hb].filter(Boolean).map((g) => g.stop()));
    await dropFederationSchemas([hb].filter(Boolean));
  });

  it('a NUL or an unpaired surrogate in the request body is a 400 naming the field, on both backends, and nothing is stored', async () => {
    for (const [gw, other] of [
      [bj, HB],
      [hb, BJ],
    ] as const) {
      const before = (await call<CaseListBody>(gw, 'GET', '/v1/cases')).body.cases.length;
      const nul = await call<ErrorBody>(gw, 'POST', '/v1/cases', hukou(gw.code, other, '李\u0000四'));
      expect(nul.status).toBe(400);
      expect(nul.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'applicant.name', rule: 'STORABLE_TEXT' });
      expect(nul.body.error.message).toBe('applicant.name: must not contain the NUL character (U+0000)');
      const surrogate = await call<ErrorBody>(gw, 'POST', '/v1/cases', { ...hukou(gw.code, other), receivedAt: { office: '中心', clerk: '赵\uD800', channel: 'WINDOW' } });
      expect(surrogate.status).toBe(400);
      expect(surrogate.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'receivedAt.clerk', rule: 'STORABLE_TEXT' });
      expect((await call<CaseListBody>(gw, 'GET', '/v1/cases')).body.cases.length).toBe(before);
    }
  });

  /** Inserts a message into BJ's outbox as the next of `stream` to HB; returns its id. */
  function craft(stream: string, type: string, body: Uint8Array): string {
    const id = randomUUID();
    const now = Date.now();
    sqlite.transaction(() => {
      const { max } = sqlite.prepare('SELECT MAX(seq) AS max FROM outbox_messages WHERE peer = ? AND stream = ?').get(HB, stream) as { max: number | null };
      sqlite
        .prepare(
          `INSERT INTO outbox_messages (id, peer, stream, seq, type, body, status, attempts, next_attempt_at, created_at, failure_count)
           VALUES (?, ?, ?, ?, ?, ?, 'PENDING', 0, ?, ?, 0)`,
        )
        .run(id, HB, stream, (max ?? 0) + 1, type, Buffer.from(body).toString('base64'), now, now);
    })();
    return id;
  }
  const outbox = async (id: string) => (await call<OutboxBody>(bj, 'GET', '/admin/outbox?limit=1000', undefined, bj.adminToken)).body.messages.find((m) => m.id === id);

  it('a case message with unstorable text gets a REJECTED receipt from the PostgreSQL peer (before: INTERNAL on every try)', async () => {
    const opened = await call<CaseBody>(bj, 'POST', '/v1/cases', hukou(BJ, HB));
    expect(opened.status).toBe(201);
    const { collaborationId } = opened.body;
    await waitFor(
      'the case at HB',
      () => call(hb, 'GET', `/v1/cases/${collaborationId}`),
      (r) => r.status === 200,
    );
    // The same CaseOpened, for another case id, with a NUL in the applicant's name.
    const row = sqlite.prepare('SELECT body FROM outbox_messages WHERE stream = ? AND type = ?').get(collaborationId, 'tongban.cases.v1.CaseOpened') as { body: string };
    const original = CaseOpened.decode(Buffer.from(row.body, 'base64'));
    const poisonId = `${BJ}-20261203-${randomUUID().slice(0, 10).toUpperCase()}`;
    const id = craft(poisonId, 'tongban.cases.v1.CaseOpened', CaseOpened.encode({ ...original, collaborationId: poisonId, applicantName: '李\u0000四' }).finish());
    const m = await waitFor(
      'the poisoned CaseOpened answered',
      () => outbox(id),
      (v) => v?.status === 'DELIVERED',
    );
    expect(m?.lastError).toBe('rejected: STORABLE_TEXT: applicantName: must not contain the NUL character (U+0000)');
    expect((await call(hb, 'GET', `/v1/cases/${poisonId}`)).status).toBe(404);
  });

  it(`a message the peer refuses the same way every time goes DEAD after ${DEAD_AFTER} tries, holds back its case, shows in /admin/outbox and the metrics, and re-queue delivers it and the rest in order`, async () => {
    const { collaborationId } = (await call<CaseBody>(bj, 'POST', '/v1/cases', hukou(BJ, HB))).body;
    await waitFor(
      'the case at HB',
      () => call(hb, 'GET', `/v1/cases/${collaborationId}`),
      (r) => r.status === 200,
    );
    const note = (type: string) => CaseEventNote.encode({ collaborationId, type, detailsJson: '{}', actor: 'e2e', at: undefined }).finish();
    // A NUL in the payload type: HB refuses the Deliver itself (MALFORMED_PAYLOAD, INVALID_ARGUMENT).
    const poison = craft(collaborationId, `${NOTE}\u0000`, note('FIRST_NOTE'));
    const behind = craft(collaborationId, NOTE, note('SECOND_NOTE'));

    const dead = await waitFor(
      'the poison message DEAD',
      () => outbox(poison),
      (v) => v?.status === 'DEAD',
      30_000,
    );
    expect(dead).toMatchObject({ deadReason: 'FAILURES', failureCode: 'MALFORMED_PAYLOAD', failureCount: DEAD_AFTER, attempts: DEAD_AFTER });
    expect(dead?.lastError).toMatch(/^ISSUER_REJECTED: the gateway of 130000 rejected the request \(MALFORMED_PAYLOAD\)/);
    const metrics = await fetch(`${bj.baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/tongban_dead_letters_total\{queue="outbox",reason="MALFORMED_PAYLOAD"\} 1/);
    // The note behind it is held back: never sent.
    expect(await outbox(behind)).toMatchObject({ status: 'PENDING', attempts: 0 });
    const events = async () => (await call<CaseBody>(hb, 'GET', `/v1/cases/${collaborationId}`)).body.events.map((e) => e.type);
    expect(await events()).not.toContain('SECOND_NOTE');

    // The fix (here: the sender's row corrected), then the operator re-queues the dead message.
    sqlite.prepare('UPDATE outbox_messages SET type = ? WHERE id = ?').run(NOTE, poison);
    const requeued = await call(bj, 'POST', `/admin/outbox/${poison}/requeue`, undefined, bj.adminToken);
    expect(requeued.status).toBe(200);
    expect(requeued.body).toMatchObject({ status: 'PENDING', attempts: 0, failureCount: 0, failureCode: null, deadReason: null });
    await waitFor(
      'both notes delivered',
      async () => [await outbox(poison), await outbox(behind)],
      (v) => v.every((x) => x?.status === 'DELIVERED' && x.lastError === null),
    );
    const types = (await events()).filter((t) => t.endsWith('_NOTE'));
    expect(types).toEqual(['FIRST_NOTE', 'SECOND_NOTE']);
  });
});
