import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GatewayOptions, ROOT, gatewayOptions, runCli, startGateway } from '@tongban/testkit';

// `tongban audit verify` on a real gateway database: NOT PROVEN (exit 3) before any checkpoint or
// without keys from outside the database, PROVEN (exit 0) once the gateway sealed the chain and the
// keys come from its published JWKS, TAMPERED (exit 2) once a row is altered behind the triggers.
// test/audit-tamper.e2e-spec.ts attacks a federation's gateway in more ways.
const BJ = '110000';
let o: GatewayOptions;
const dbFile = () => join(o.dir, `tongban-${BJ}.sqlite`);

beforeAll(async () => {
  o = await gatewayOptions(BJ);
  const imported = await runCli(o, ['licences', 'import', join(ROOT, 'deploy', 'demo', `licences-${BJ}.json`)]);
  expect(imported.code).toBe(0);
}, 60_000);

it('NOT PROVEN for the CLI-written entry: no checkpoint yet (the gateway has made no key), and no outside keys', async () => {
  const r = await runCli(o, ['audit', 'verify']);
  expect(r).toMatchObject({
    code: 3,
    stdout: 'audit chain NOT PROVEN: checkpoint signatures were not checked: give public keys from outside the database (--jwks or --jwks-url)\n',
  });
});

it('a gateway that ran and stopped sealed the chain with its key: PROVEN with its published JWKS, refused with another key set', async () => {
  const gw = await startGateway(o);
  const published = await fetch(`${gw.baseUrl}/.well-known/jwks.json`).then((r) => r.text());
  await gw.stop();
  const jwks = join(o.dir, 'jwks.json');
  writeFileSync(jwks, published);
  const r = await runCli(o, ['audit', 'verify', '--jwks', jwks]);
  expect(r).toMatchObject({ code: 0, stdout: 'audit chain PROVEN: 1 entries, 1 checkpoints, the newest at seq 1\n' });
  // Without the keys, the database alone proves nothing.
  expect(await runCli(o, ['audit', 'verify'])).toMatchObject({ code: 3 });

  // Against a JWKS that does not hold the gateway's key, the checkpoint is refused.
  const empty = join(o.dir, 'empty-jwks.json');
  writeFileSync(empty, JSON.stringify({ keys: [] }));
  const foreign = await runCli(o, ['audit', 'verify', '--jwks', empty]);
  expect(foreign.code).toBe(2);
  expect(foreign.stdout).toMatch(/^audit chain TAMPERED at seq 1: checkpoint at seq 1: signature does not verify with the keys given/);
}, 60_000);

it('prints TAMPERED at the altered seq, and exits 2, after a row is changed behind the trigger', async () => {
  const db = new Database(dbFile());
  try {
    expect(() => db.prepare(`UPDATE audit_events SET actor = 'nobody' WHERE seq = 1`).run()).toThrow('audit_events is append-only');
    db.exec('DROP TRIGGER audit_events_no_update');
    db.prepare(`UPDATE audit_events SET actor = 'nobody' WHERE seq = 1`).run();
  } finally {
    db.close();
  }
  const r = await runCli(o, ['audit', 'verify', '--jwks', join(o.dir, 'jwks.json')]);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('audit chain TAMPERED at seq 1: entry content does not match its hash (entry altered)\n');
});
