import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GatewayOptions, ROOT, gatewayOptions, runCli, startGateway } from '@tongban/testkit';

// TONGBAN_AUDIT_HASH switched on a real gateway's database: an entry written with SHA-256, then SM3
// entries from the CLI and from the gateway; `tongban audit verify` proves the mixed chain with the
// published keys, says how many entries each hash has, and names an SM3 entry altered behind the trigger.
const BJ = '110000';

it('a chain switched from SHA-256 to SM3 is proven by tongban audit verify, and an altered SM3 entry is named', async () => {
  const o: GatewayOptions = await gatewayOptions(BJ);
  const sm3 = { ...o, env: { TONGBAN_AUDIT_HASH: 'SM3' } };
  const file = join(ROOT, 'deploy', 'demo', 'licences-110000.json');
  expect((await runCli(o, ['licences', 'import', file])).code).toBe(0);
  expect((await runCli(sm3, ['licences', 'import', file])).code).toBe(0);
  const gw = await startGateway(sm3);
  const jwks = join(o.dir, 'jwks.json');
  writeFileSync(jwks, await fetch(`${gw.baseUrl}/.well-known/jwks.json`).then((r) => r.text()));
  await gw.stop();

  const db = new Database(join(o.dir, `tongban-${BJ}.sqlite`));
  try {
    const algs = (db.prepare('SELECT hash_alg AS a FROM audit_events ORDER BY seq').all() as { a: string | null }[]).map((r) => r.a);
    expect(algs[0]).toBeNull();
    expect(algs.slice(1).length).toBeGreaterThanOrEqual(1);
    expect(new Set(algs.slice(1))).toEqual(new Set(['SM3']));
    const r = await runCli(o, ['audit', 'verify', '--jwks', jwks]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^audit chain PROVEN: \d+ entries/);
    expect(r.stderr).toContain(`note: entries by hash: SHA-256 1, SM3 ${algs.length - 1}`);

    db.exec('DROP TRIGGER audit_events_no_update');
    db.prepare(`UPDATE audit_events SET actor = 'nobody' WHERE seq = 2`).run();
  } finally {
    db.close();
  }
  const tampered = await runCli(o, ['audit', 'verify', '--jwks', jwks]);
  expect(tampered.code).toBe(2);
  expect(tampered.stdout).toBe('audit chain TAMPERED at seq 2: entry content does not match its hash (entry altered)\n');
}, 120_000);
