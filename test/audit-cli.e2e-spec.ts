import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GatewayOptions, ROOT, gatewayOptions, runCli, startGateway } from '@tongban/testkit';

// `tongban audit verify` on a real gateway database: OK when fresh (with the checkpoint the gateway
// signed at shutdown), BROKEN once a row is altered behind the append-only triggers.
const BJ = '110000';
let o: GatewayOptions;
const dbFile = () => join(o.dir, `tongban-${BJ}.sqlite`);

beforeAll(async () => {
  o = await gatewayOptions(BJ);
  const imported = await runCli(o, ['licences', 'import', join(ROOT, 'deploy', 'demo', `licences-${BJ}.json`)]);
  expect(imported.code).toBe(0);
}, 60_000);

it('prints OK for the CLI-written entry; no checkpoint yet', async () => {
  const r = await runCli(o, ['audit', 'verify']);
  expect(r).toMatchObject({ code: 0, stdout: 'audit chain OK: 1 entries, 0 checkpoints\n' });
  expect(r.stderr).toContain('entries after seq 0 are not yet covered by a signed checkpoint');
});

it('a gateway that ran and stopped leaves a checkpoint signed with its key, which verifies', async () => {
  const gw = await startGateway(o);
  await gw.stop();
  const r = await runCli(o, ['audit', 'verify']);
  expect(r).toMatchObject({ code: 0, stdout: 'audit chain OK: 1 entries, 1 checkpoints\n', stderr: '' });

  // Against a JWKS that does not hold the gateway's key, the checkpoint is refused.
  const empty = join(o.dir, 'empty-jwks.json');
  writeFileSync(empty, JSON.stringify({ keys: [] }));
  const foreign = await runCli(o, ['audit', 'verify', '--jwks', empty]);
  expect(foreign.code).toBe(2);
  expect(foreign.stdout).toMatch(/^audit chain BROKEN at seq 1: checkpoint at seq 1: signature does not verify/);
}, 60_000);

it('prints BROKEN at the altered seq, and exits 2, after a row is changed behind the trigger', async () => {
  const db = new Database(dbFile());
  try {
    expect(() => db.prepare(`UPDATE audit_events SET actor = 'nobody' WHERE seq = 1`).run()).toThrow('audit_events is append-only');
    db.exec('DROP TRIGGER audit_events_no_update');
    db.prepare(`UPDATE audit_events SET actor = 'nobody' WHERE seq = 1`).run();
  } finally {
    db.close();
  }
  const r = await runCli(o, ['audit', 'verify']);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('audit chain BROKEN at seq 1: entry content does not match its hash (entry altered)\n');
});
