import { SystemClock } from '@tongban/common';
import { Dispatcher, Inbox, InboxHandler, IncomingMessage, OutboxMessageEntity, Outbox } from '@tongban/delivery';
import { buildDataSource, openDatabase, runInTransaction } from '@tongban/persistence';
import { CaseEventNote } from '@tongban/proto';
import { TEST_PG_URL, describeEachDatabase } from '@tongban/testkit';
import { Client } from 'pg';
import type { TrustStore } from '@tongban/trust';
import { DataSource } from 'typeorm';
import { CaseEventEntity } from './case-event.entity';
import { CaseInboxHandlers } from './case-inbox.handlers';
import { CaseMessage } from './case-messages';
import { CaseOwner } from './case-owner.service';
import { CaseStepEntity } from './case-step.entity';
import { CaseTransactions } from './case-transactions';
import { CaseEntity } from './case.entity';

const SELF = '110000';
const SENDER = '130000';
const OTHER = '440000';
const COLLAB = '110000-20261203-NOTE';
const APP = `note-lock-${process.pid}`;

// Two participants' notes for one case reach its owner at the same time (each on the case's stream,
// but a stream is ordered per sender, so nothing orders the two): the owner records each, relays it
// and touches the case. The handler locks the case row first (CaseTransactions.load), so the second
// waits before it writes.
describeEachDatabase('Case notes at the owner are applied one at a time', (fresh, kind) => {
  let ds: DataSource;
  let note: InboxHandler;

  beforeEach(async () => {
    const target = fresh();
    // Its own backends carry a name of their own: other suites' sessions on the shared test database
    // (a migration's advisory lock, a key store's) may be waiting for locks at the same moment.
    ds = await openDatabase(buildDataSource(target.kind === 'postgres' ? { ...target, applicationName: APP } : target, [CaseEntity, CaseStepEntity, CaseEventEntity, OutboxMessageEntity]));
    const clock = new SystemClock();
    const handlers = new Map<string, InboxHandler>();
    // The inbox is not under test: the handler is taken as the inbox would run it, in a transaction.
    const inbox = { on: (type: string, fn: InboxHandler) => handlers.set(type, fn) } as unknown as Inbox;
    const txs = new CaseTransactions(ds, new Outbox(clock), { nudge: () => undefined } as unknown as Dispatcher, clock, SELF);
    // CaseOwner.note uses only the case transactions; the catalogue, directory and trust are not reached.
    new CaseInboxHandlers(inbox, txs, new CaseOwner(txs, {} as never, {} as never, {} as never), {} as TrustStore).onModuleInit();
    note = handlers.get(CaseMessage.Note)!;
    const now = new Date();
    await ds.getRepository(CaseEntity).insert({
      id: 'case-1',
      collaborationId: COLLAB,
      itemCode: 'ITEM',
      itemVersion: '1',
      item: { code: 'ITEM', steps: [] } as never,
      mode: 'COLLABORATIVE',
      owner: SELF,
      state: 'OPEN',
      participants: { ACCEPTING: SELF, A: SENDER, B: OTHER },
      applicantName: '测试',
      applicantIdNumber: null,
      received: {},
      materials: [],
      currentStep: 0,
      createdAt: now,
      updatedAt: now,
      closedAt: null,
      closeReason: null,
      refusedStep: null,
    });
  });
  afterEach(async () => {
    await ds.destroy();
  });

  const message = (type: string, n: number): IncomingMessage => ({
    sender: SENDER,
    messageId: `m-${n}`,
    stream: COLLAB, // a case message travels on its case's stream (protocol-cases.md §2.6)
    seq: 1,
    type: CaseMessage.Note,
    body: Buffer.from(CaseEventNote.encode({ collaborationId: COLLAB, type, detailsJson: '{}', actor: 'clerk', at: undefined }).finish()),
  });

  /** The query text of this test's statement that waits for a lock (PostgreSQL), if one does. */
  async function lockWaiter(): Promise<string | undefined> {
    const rows: { query: string }[] = await ds.query(`SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND application_name = $1`, [APP]);
    expect(rows.length).toBeLessThanOrEqual(1);
    return rows[0]?.query;
  }

  /**
   * Another session of the shared test database waiting for a lock, as another suite's migration
   * (its advisory lock) may be while this test runs; the test must tell its own waiter from it.
   */
  async function strangerWaitingForALock(): Promise<() => Promise<void>> {
    const [holder, waiter] = [new Client({ connectionString: TEST_PG_URL }), new Client({ connectionString: TEST_PG_URL, application_name: `${APP}-stranger` })];
    await Promise.all([holder.connect(), waiter.connect()]);
    const key = 7_415_822_999;
    await holder.query('SELECT pg_advisory_lock($1)', [key]);
    const waited = waiter.query('SELECT pg_advisory_lock($1)', [key]);
    for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((r) => setTimeout(r, 5))) {
      const { rows } = await holder.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = $1`, [`${APP}-stranger`]);
      if (rows.length) break;
    }
    return async () => {
      await holder.query('SELECT pg_advisory_unlock($1)', [key]);
      await waited;
      await Promise.all([holder.end(), waiter.end()]);
    };
  }

  it('a second note for the case waits for the first transaction (at the case lock, before writing anything), then both are recorded and relayed in order', async () => {
    const stranger = kind === 'postgres' ? await strangerWaitingForALock() : async () => undefined;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let firstApplied!: () => void;
    const applied = new Promise<void>((r) => (firstApplied = r));
    const first = runInTransaction(ds, async (tx) => {
      await note(tx, message('FIRST_NOTE', 1));
      firstApplied();
      await gate; // the first transaction stays open, holding what it locked
    });
    await applied;
    let secondDone = false;
    const second = runInTransaction(ds, async (tx) => {
      await note(tx, message('SECOND_NOTE', 2));
      secondDone = true;
    });
    try {
      if (kind === 'postgres') {
        // The second handler blocks on the case row's lock: its waiting statement is the SELECT of the
        // case (a plain read never waits, so it is the SELECT … FOR UPDATE; the text is cut at 1 KiB),
        // so it has written no event, no outbox row and no update yet.
        // PostgreSQL tells of a lock wait only through pg_stat_activity, so it is polled (up to 10 s).
        let waiting: string | undefined;
        for (const until = Date.now() + 10_000; !waiting && Date.now() < until;) {
          waiting = await lockWaiter();
          if (!waiting) await new Promise((r) => setTimeout(r, 5));
        }
        expect(waiting).toMatch(/^SELECT "c"\."id"/);
      }
      expect(secondDone).toBe(false);
    } finally {
      release();
      await Promise.all([first, second, stranger()]);
    }
    expect(secondDone).toBe(true);
    const events = await ds.getRepository(CaseEventEntity).find({ where: { caseId: 'case-1' }, order: { seq: 'ASC' } });
    expect(events.map((e) => e.type)).toEqual(['FIRST_NOTE', 'SECOND_NOTE']);
    const relayed = await ds.getRepository(OutboxMessageEntity).find({ where: { peer: OTHER, stream: COLLAB }, order: { seq: 'ASC' } });
    expect(relayed.map((r) => [r.seq, CaseEventNote.decode(Buffer.from(r.body, 'base64')).type])).toEqual([
      [1, 'FIRST_NOTE'],
      [2, 'SECOND_NOTE'],
    ]);
  });
});
