import { join } from 'node:path';
import { Gateway, runCli, startFederation } from '@tongban/testkit';
import { BJ, FAST, HB, restoreStory } from './support/restore-story';

// Backup and restore on SQLite (docs/operations.md §8.3–8.6): `tongban backup` while 河北 serves,
// `tongban restore` once it is stopped; the story and its assertions are in support/restore-story.ts
// (test/backup-restore-postgres.e2e-spec.ts runs the same story on PostgreSQL).
let bj: Gateway;
let hb: Gateway;

beforeAll(async () => {
  [bj, hb] = await startFederation([BJ, HB], { env: FAST });
}, 120_000);

afterAll(async () => {
  await Promise.all([bj?.stop(), hb?.stop()]);
});

it('a gateway restored to a backup older than its peer resynchronises: every case once, in one state, no message applied twice, audit proven', async () => {
  const backup = join(hb.options.dir, 'hb-backup.sqlite');
  hb = await restoreStory(bj, hb, {
    backup: async (gw) => {
      const made = await runCli(gw.options, ['backup', '--out', backup]);
      expect(made).toMatchObject({ code: 0, stderr: '' });
      expect(made.stdout).toMatch(/^backup written to .*\ngateway 130000, sqlite, made .* by tongban .*\n/);
      expect(made.stdout).toContain('outbox: 110000: 2 streams; 2 not delivered');
      expect(await runCli(gw.options, ['backup', 'check', backup])).toMatchObject({ code: 0 });
    },
    refusedWhileRunning: async (gw) => {
      const refused = await runCli(gw.options, ['restore', backup]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /^tongban restore: a gateway is running on the target \(something answers on HTTP 127\.0\.0\.1:\d+, gRPC 127\.0\.0\.1:\d+\): stop it \(SIGTERM\) before restoring\n$/,
      );
    },
    restore: async (gw) => {
      const restored = await runCli(gw.options, ['restore', backup]);
      expect(restored.stderr).toBe('');
      expect(restored.code).toBe(0);
      expect(restored.stdout).toMatch(/the database it replaced is kept at .*\.replaced-\d{8}T\d{6}Z\naudit entries after the backup, lost with the restore: [1-9]\d*/);
    },
  });
}, 240_000);
