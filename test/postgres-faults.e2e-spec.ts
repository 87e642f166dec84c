import { Client } from 'pg';
import { Gateway, TEST_PG_URL, call, connectAll, dropPostgresSchema, gatewayOptions, importDemoLicences, startGateway } from '@tongban/testkit';
import type { CaseBody, CaseListBody, ErrorBody, OutboxBody } from './support/bodies';
import { waitFor } from './support/wait';

// 北京 on PostgreSQL (a schema of its own), 河北 on SQLite. While requests and deliveries run, a
// separate connection terminates every backend of 北京 (its own application_name), as a
// failover or an operator would. The gateway must answer 2xx or 503 (Retry-After, UNAVAILABLE with a
// documented reason), never 500; stay up; keep every case it acknowledged; and recover.
const BJ = '110000';
const HB = '130000';
const FAST = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '400', TONGBAN_DELIVERY_POLL_MS: '100' };
const CONCURRENCY = 24;
const KILL_ROUNDS = 4;
// Each of the concurrent clients opens this many cases one after the other in a round.
const PER_CLIENT = 3;
const REASONS = ['DATABASE_UNAVAILABLE', 'DATABASE_COMMIT_UNKNOWN', 'DATABASE_READ_AFTER_COMMIT'];

function hukou(n: number) {
  return {
    itemCode: 'HUKOU_WORK_TRANSFER',
    applicant: { name: `张三${n}`, idNumber: '11010519491231002X' },
    participants: { DESTINATION: BJ, ORIGIN: HB },
    materials: [{ code: 'HOUSEHOLD_REGISTER' }, { code: 'RESIDENT_ID_CARD' }, { code: 'TRANSFER_PROOF', form: 'PAPER' }],
    receivedAt: { office: '北京市东城区政务服务中心', clerk: '王窗口', channel: 'WINDOW' },
  };
}

/** Every answer seen under faults, by kind. */
class Tally {
  ok = 0;
  unavailable = 0;
  commitUnknown = 0;
  /** Stored, but reading it back for the answer failed: where to read it. */
  readonly storedUnread: string[] = [];
  readonly wrong: string[] = [];

  /** Records an answer: true for one of `okStatuses`; a 503 UNAVAILABLE with Retry-After and a documented reason is counted; anything else is wrong. */
  see(what: string, r: { status: number; body: unknown; headers: Headers }, okStatuses: number[]): boolean {
    if (okStatuses.includes(r.status)) {
      this.ok++;
      return true;
    }
    const error = (r.body as ErrorBody | undefined)?.error;
    if (r.status === 503 && r.headers.get('retry-after') === '2' && error?.code === 'UNAVAILABLE' && REASONS.includes(String(error.reason))) {
      if (error.reason === 'DATABASE_COMMIT_UNKNOWN') this.commitUnknown++;
      else if (error.reason === 'DATABASE_READ_AFTER_COMMIT') this.storedUnread.push(String(error.location));
      else this.unavailable++;
      return false;
    }
    this.wrong.push(`${what}: ${r.status} retry-after=${r.headers.get('retry-after')} ${JSON.stringify(r.body).slice(0, 300)}`);
    return false;
  }
}

const pg = process.env.TEST_PG_AVAILABLE === '1' ? describe : describe.skip;
pg('PostgreSQL backends terminated under load', () => {
  const schema = `e2e_pgfaults_${Date.now().toString(36)}`;
  // Its own application name, so the killer never touches another suite's or a benchmark's 北京.
  const appName = `tongban-${BJ}-${schema}`;
  let bj: Gateway;
  let hb: Gateway;
  let killer: Client;
  let kills = 0;

  const killAll = async () => {
    const r = await killer.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName]);
    kills += r.rowCount ?? 0;
  };
  /** Runs `work` while backends of 北京 are terminated every few tens of milliseconds; stops when it settles. */
  async function underKills<T>(work: () => Promise<T>): Promise<T> {
    let done = false;
    const loop = (async () => {
      while (!done) {
        await killAll();
        // Gaps of 20–200 ms: some transactions are cut off, some get through between two kills.
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 180));
      }
    })();
    try {
      return await work();
    } finally {
      done = true;
      await loop;
    }
  }
  /** Nothing but 2xx and documented 503s so far; else the failures with the gateway's error log lines. */
  const noneWrong = (tally: Tally) => {
    const log = tally.wrong.length
      ? bj
          .output()
          .split('\n')
          .filter((l) => /ERROR|Error:| {4}at /.test(l))
          .slice(-40)
      : [];
    expect({ wrong: tally.wrong, log }).toEqual({ wrong: [], log: [] });
  };
  const alive = () => expect({ exitCode: bj.proc.exitCode, signal: bj.proc.signalCode }).toEqual({ exitCode: null, signal: null });
  const caseAt = (gw: Gateway, id: string) => call<CaseBody>(gw, 'GET', `/v1/cases/${id}`);
  const completeStep0 = (id: string) => call(bj, 'POST', `/v1/tasks/${id}~0/complete`, { outputs: { approval_no: `京准迁字${id.slice(-6)}` } });
  const faultCount = async () => {
    const text = await (await fetch(`${bj.baseUrl}/metrics`)).text();
    const m = /^tongban_database_faults_total\{kind="connection_lost"\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : 0;
  };

  beforeAll(async () => {
    killer = new Client({ connectionString: TEST_PG_URL, application_name: 'tongban-e2e-killer' });
    await killer.connect();
    const b = await gatewayOptions(BJ, { databaseUrl: TEST_PG_URL, env: { ...FAST, TONGBAN_DATABASE_SCHEMA: schema, TONGBAN_DATABASE_APPLICATION_NAME: appName } });
    const h = await gatewayOptions(HB, { env: FAST });
    await Promise.all([importDemoLicences(b), importDemoLicences(h)]);
    [bj, hb] = await Promise.all([startGateway(b), startGateway(h)]);
    await connectAll([bj, hb]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([bj, hb].filter(Boolean).map((g) => g.stop()));
    await killer?.end();
    await dropPostgresSchema(schema);
  });

  it('answers 2xx or 503 with Retry-After, never 500; keeps every acknowledged case; recovers; deliveries both ways continue', async () => {
    const tally = new Tally();
    const acknowledged: string[] = [];
    let n = 0;
    const faultsBefore = await faultCount();
    const clients = new Map<string, 'stored' | 'not stored' | 'unknown'>();
    let casesUnknown = 0;

    // Rounds of concurrent case openings and reads while backends are terminated.
    for (let round = 0; round < KILL_ROUNDS; round++) {
      await underKills(() =>
        Promise.all(
          Array.from({ length: CONCURRENCY }, async (_, i) => {
            for (let k = 0; k < PER_CLIENT; k++) {
              const r = await call<CaseBody>(bj, 'POST', '/v1/cases', hukou(n++));
              if (tally.see(`round ${round} POST /v1/cases`, r, [201])) acknowledged.push(r.body.collaborationId);
              else if ((r.body as unknown as ErrorBody).error?.reason === 'DATABASE_COMMIT_UNKNOWN') casesUnknown++;
              if (i % 4 === 0) tally.see(`round ${round} GET /v1/cases`, await call(bj, 'GET', '/v1/cases?limit=5'), [200]);
              // An admin change written in two steps (the client row, then its audit entry): a 503 may
              // say "nothing was stored" only if nothing was.
              if (i % 6 === 1) {
                const name = `pgf-${n++}`;
                const r = await call<ErrorBody>(bj, 'POST', '/admin/clients', { kind: 'SYSTEM', name, scopes: ['cases'] }, bj.adminToken);
                const said = tally.see(`round ${round} POST /admin/clients`, r, [201]) ? 'stored' : r.body.error?.reason === 'DATABASE_UNAVAILABLE' ? 'not stored' : 'unknown';
                clients.set(name, said);
              }
            }
          }),
        ),
      );
      alive();
    }
    noneWrong(tally);
    // A 503 DATABASE_READ_AFTER_COMMIT acknowledged the case too (its location names it).
    acknowledged.push(...tally.storedUnread.map((location) => location.replace('/v1/cases/', '')));
    const underFaults = acknowledged.length;
    expect(underFaults).toBeGreaterThan(0);
    expect(kills).toBeGreaterThan(0);
    expect(tally.unavailable + tally.commitUnknown).toBeGreaterThan(0);
    expect(await faultCount()).toBeGreaterThan(faultsBefore);

    // Once the kills stop, a round succeeds in full.
    expect((await fetch(`${bj.baseUrl}/health/live`)).status).toBe(200);
    const calm = await Promise.all(Array.from({ length: CONCURRENCY }, () => call<CaseBody>(bj, 'POST', '/v1/cases', hukou(n++))));
    expect(calm.map((r) => r.status)).toEqual(calm.map(() => 201));
    acknowledged.push(...calm.map((r) => r.body.collaborationId));

    // Every acknowledged case is there; a 503 that said "nothing was stored" stored nothing.
    for (const id of acknowledged) expect((await caseAt(bj, id)).status).toBe(200);
    const stored = (await call<CaseListBody>(bj, 'GET', '/v1/cases?limit=1000')).body.cases.length;
    expect(stored).toBeGreaterThanOrEqual(acknowledged.length);
    expect(stored).toBeLessThanOrEqual(acknowledged.length + casesUnknown);

    const listed = new Set((await call<{ clients: { name: string }[] }>(bj, 'GET', '/admin/clients', undefined, bj.adminToken)).body.clients.map((c) => c.name));
    const untrue = [...clients].filter(([name, said]) => (said === 'stored' && !listed.has(name)) || (said === 'not stored' && listed.has(name)));
    expect(untrue).toEqual([]);

    // Step 0 completed under kills: 200 or 503 (a 503 is tried again once the kills stop). Meanwhile
    // 北京's outbox sends CaseOpened and StepAssigned to 河北 while its database connections die.
    const settled = new Set<string>();
    await underKills(() =>
      Promise.all(
        acknowledged.map(async (id) => {
          if (tally.see(`complete ${id}~0`, await completeStep0(id), [200])) settled.add(id);
        }),
      ),
    );
    noneWrong(tally);
    alive();
    for (const id of acknowledged.filter((x) => !settled.has(x))) {
      // After DATABASE_COMMIT_UNKNOWN the step may be completed already: read before trying again.
      if ((await caseAt(bj, id)).body.steps[0].status === 'COMPLETED') continue;
      expect((await completeStep0(id)).status).toBe(200);
    }
    for (const id of acknowledged)
      await waitFor(
        `${id} step 1 ASSIGNED at 河北`,
        () => caseAt(hb, id).then((r) => r.body),
        (c) => c?.steps?.[1]?.status === 'ASSIGNED',
        30_000,
      );

    // 河北 completes step 1; its deliveries to 北京 meet terminated backends (gRPC UNAVAILABLE), back
    // off, and go on: the kills last until 河北's outbox has seen 北京 answer UNAVAILABLE.
    const toBj = async () => (await call<OutboxBody>(hb, 'GET', '/admin/outbox?limit=1000', undefined, hb.adminToken)).body.messages.filter((m) => m.peer === BJ);
    await underKills(async () => {
      await Promise.all(
        acknowledged.map(async (id) => {
          const r = await call(hb, 'POST', `/v1/tasks/${id}~1/complete`, { outputs: { migration_certificate_no: `冀迁字${id.slice(-6)}` } });
          expect(r.status).toBe(200);
        }),
      );
      await waitFor('河北 retrying a delivery that 北京 answered UNAVAILABLE', toBj, (ms) => ms.some((m) => m.attempts > 0 && /UNAVAILABLE|ISSUER_UNREACHABLE/.test(m.lastError ?? '')), 20_000);
    });
    alive();
    for (const id of acknowledged)
      await waitFor(
        `${id} step 2 ASSIGNED at 北京`,
        () => caseAt(bj, id).then((r) => r.body),
        (c) => c?.steps?.[2]?.status === 'ASSIGNED',
        30_000,
      );
    const delivered = await waitFor('河北 outbox to 北京 drained', toBj, (ms) => ms.every((m) => m.status === 'DELIVERED'));
    expect(delivered.filter((m) => m.attempts > 0).length).toBeGreaterThan(0);
    await waitFor(
      '北京 outbox drained (nothing DEAD)',
      async () => (await call<OutboxBody>(bj, 'GET', '/admin/outbox?limit=1000', undefined, bj.adminToken)).body.messages,
      (ms) => ms.every((m) => m.status === 'DELIVERED'),
    );
    noneWrong(tally);
    expect(bj.output()).not.toMatch(/Unhandled|uncaught/i);
    process.stdout.write(
      `postgres-faults: ${KILL_ROUNDS} rounds × ${CONCURRENCY} clients × ${PER_CLIENT}, ${acknowledged.length} cases acknowledged (${underFaults} under kills), ${tally.ok} 2xx, ${tally.unavailable} 503 DATABASE_UNAVAILABLE, ${tally.commitUnknown} 503 DATABASE_COMMIT_UNKNOWN, ${tally.storedUnread.length} 503 DATABASE_READ_AFTER_COMMIT, ${clients.size} admin clients created (${[...clients.values()].filter((v) => v === 'stored').length} 201), ${kills} backends terminated, faults counted ${(await faultCount()) - faultsBefore}\n`,
    );
  }, 120_000);
});
