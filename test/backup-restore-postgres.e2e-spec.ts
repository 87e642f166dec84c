import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { Gateway, TEST_PG_URL, connectAll, gatewayOptions, importDemoLicences, onTestDatabase, runCli, startGateway } from '@tongban/testkit';
import { BJ, FAST, HB, restoreStory } from './support/restore-story';

// Backup and restore on PostgreSQL (docs/operations.md §8.3–8.6), the way a province DBA does it:
// 河北 runs on a database of its own (created and dropped here, in the test cluster); the DBA dumps
// it with pg_dump while it serves (`tongban backup check` reads the dump); cases go on; 河北 is stopped, its database dropped, created again
// and the dump restored with pg_restore; `tongban restore --postgres --mark-restored` puts it in the
// restored state; at start it resynchronises with 北京 (on SQLite). The story and its assertions
// (every case once on both sides, nothing applied twice, audit proven) are support/restore-story.ts.
const run = promisify(execFile);
const database = `tongban_e2e_pgrestore_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
const url = (() => {
  const u = new URL(TEST_PG_URL);
  u.pathname = `/${database}`;
  return u.toString();
})();
let bj: Gateway;
let hb: Gateway;

const pg = process.env.TEST_PG_AVAILABLE === '1' ? describe : describe.skip;
pg('backup and restore on PostgreSQL', () => {
  beforeAll(async () => {
    await onTestDatabase(`CREATE DATABASE "${database}"`);
    const options = await Promise.all([gatewayOptions(BJ, { env: FAST }), gatewayOptions(HB, { env: FAST, databaseUrl: url })]);
    await Promise.all(options.map(importDemoLicences));
    [bj, hb] = await Promise.all(options.map(startGateway));
    await connectAll([bj, hb]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([bj?.stop(), hb?.stop()]);
    await onTestDatabase(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  });

  it('a gateway restored by the DBA to a dump older than its peer, then marked, resynchronises: every case once, no message applied twice, audit proven', async () => {
    const dump = join(hb.options.dir, 'hb.dump');
    const mark = (gw: Gateway) => runCli(gw.options, ['restore', '--postgres', '--mark-restored']);
    hb = await restoreStory(bj, hb, {
      backup: async (gw) => {
        // tongban does not dump PostgreSQL itself: it names the runbook.
        const refused = await runCli(gw.options, ['backup', '--out', join(gw.options.dir, 'x')]);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toContain('on PostgreSQL the DBA backs up with pg_dump or PITR (docs/operations.md §8.3)');
        await run('pg_dump', ['--format=custom', '--file', dump, url]);
        const checked = await runCli(gw.options, ['backup', 'check', dump]);
        expect(checked).toMatchObject({ code: 0, stderr: '' });
        expect(checked.stdout).toMatch(/^pg_dump archive OK: .*hb\.dump\nschema public, postgres, made .* by pg_dump\n/);
        expect(checked.stdout).toContain('outbox: 110000: 2 streams; 2 not delivered');
      },
      refusedWhileRunning: async (gw) => {
        const refused = await mark(gw);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(
          /^tongban restore: a gateway is running on the target \(something answers on HTTP 127\.0\.0\.1:\d+, gRPC 127\.0\.0\.1:\d+\): stop every replica \(SIGTERM\) before marking the restore\n$/,
        );
      },
      restore: async (gw) => {
        // A replica elsewhere still holds its wake-up session on the database: refused.
        const replica = new Client({ connectionString: url, application_name: `tongban-${HB}-wake` });
        await replica.connect();
        try {
          const refused = await mark(gw);
          expect(refused.code).toBe(1);
          expect(refused.stderr).toMatch(/^tongban restore: a replica of this gateway is connected to the database \(pid \d+ from 127\.0\.0\.1 since .*\): stop every replica/);
        } finally {
          await replica.end();
        }
        // The DBA's restore: a fresh database from the dump. Marking the empty database is refused.
        await onTestDatabase(`DROP DATABASE "${database}"`);
        await onTestDatabase(`CREATE DATABASE "${database}"`);
        const empty = await mark(gw);
        expect(empty).toMatchObject({ code: 1, stderr: expect.stringContaining(`no gateway database in the search path of database ${database}`) });
        await run('pg_restore', ['--no-owner', '--exit-on-error', '--dbname', url, dump]);
        const marked = await mark(gw);
        expect(marked.stderr).toBe('');
        expect(marked.code).toBe(0);
        expect(marked.stdout).toMatch(/^marked the PostgreSQL database of 130000 as restored; its newest audit entry before the mark: seq \d+ at \d{4}-/);
        expect(marked.stdout).toContain('outbox: 110000: 2 streams; 2 not delivered');
        expect(marked.stdout).toContain('recorded as audit event backup.restored');
        // Once only.
        const again = await mark(gw);
        expect(again).toMatchObject({ code: 1, stderr: expect.stringMatching(/is backup\.restored already: this restore is marked; start the gateway/) });
      },
    });
  }, 300_000);
});
