import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CompactSign, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { Gateway, GatewayOptions, ROOT, call, connectAll, demoLicence, gatewayOptions, importDemoLicences, runCli, startGateway, verificationBody } from '@tongban/testkit';

// A real gateway seals its audit trail and exports each checkpoint to a file; then an attacker with
// write access to its SQLite file (but not to the export, nor to the peer) edits, deletes and
// forges. `tongban audit verify`, with keys as the peer sees them, exits 2 with a message naming
// the change; the untouched database exits 0; missing evidence exits 3.
const BJ = '110000';
const HB = '130000';
const PEER_TOKEN_ENV = 'AUDIT_PEER_ADMIN_TOKEN';

let bj: GatewayOptions;
let hb: Gateway;
let trail: string;
let peerView: string;

/** `audit verify` against `o`'s database with the peer's view of BJ's keys. */
const verify = (o: GatewayOptions, ...extra: string[]) =>
  runCli({ ...o, env: { ...o.env, [PEER_TOKEN_ENV]: hb.adminToken } }, ['audit', 'verify', '--jwks-url', peerView, '--token-env', PEER_TOKEN_ENV, ...extra]);

/** A copy of BJ's stopped database, changed by `attack` with the append-only triggers dropped. */
function attacked(attack: (db: Database.Database) => void): GatewayOptions {
  const dir = mkdtempSync(join(tmpdir(), 'tongban-attacked-'));
  const from = join(bj.dir, `tongban-${BJ}.sqlite`);
  const to = join(dir, 'copy.sqlite');
  copyFileSync(from, to);
  for (const ext of ['-wal', '-shm']) if (existsSync(from + ext)) copyFileSync(from + ext, to + ext);
  const db = new Database(to);
  try {
    for (const t of ['audit_events', 'audit_checkpoints']) db.exec(`DROP TRIGGER ${t}_no_update; DROP TRIGGER ${t}_no_delete;`);
    attack(db);
  } finally {
    db.close();
  }
  return { ...bj, env: { ...bj.env, TONGBAN_SQLITE_PATH: to } };
}

const checkpointSeqs = (o: GatewayOptions) => {
  const db = new Database(o.env!.TONGBAN_SQLITE_PATH ?? join(o.dir, `tongban-${BJ}.sqlite`), { readonly: true });
  try {
    return (db.prepare('SELECT seq FROM audit_checkpoints ORDER BY seq').all() as { seq: number }[]).map((r) => r.seq);
  } finally {
    db.close();
  }
};

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), `tongban-e2e-${BJ}-`));
  trail = join(mkdtempSync(join(tmpdir(), 'tongban-trail-')), 'checkpoints.jsonl');
  bj = await gatewayOptions(BJ, { dir, env: { TONGBAN_AUDIT_CHECKPOINT_FILE: trail } });
  const hbOptions = await gatewayOptions(HB);
  await Promise.all([importDemoLicences(bj), importDemoLicences(hbOptions)]);
  const gw = await startGateway(bj);
  hb = await startGateway(hbOptions);
  await connectAll([gw, hb]);
  peerView = `${hb.baseUrl}/admin/peers/${BJ}`;
  // Entries of every kind: a CLI import while the gateway runs (the CLI seals it), a verification.
  const imported = await runCli(bj, ['licences', 'import', join(ROOT, 'deploy', 'demo', `licences-${BJ}.json`)]);
  expect(imported.code).toBe(0);
  expect((await call(hb, 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')))).status).toBe(200);
  await gw.stop(); // seals the rest
}, 120_000);

afterAll(async () => {
  await hb?.stop();
});

it('the untouched database is PROVEN (exit 0), with the peer’s view of the keys and the exported trail', async () => {
  const seqs = checkpointSeqs(bj);
  // Sealed at start (the import made before the first key), by the CLI import, and at shutdown.
  expect(seqs.length).toBeGreaterThanOrEqual(3);
  const lines = readFileSync(trail, 'utf8').trim().split('\n');
  expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual(seqs);
  const r = await verify(bj, '--checkpoints', trail);
  expect(r).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^audit chain PROVEN: \\d+ entries, ${seqs.length} checkpoints, the newest at seq ${seqs.at(-1)}\\n$`)) });
  expect(r.stderr).toContain(`checkpoint signatures checked with the keys from ${peerView}`);
});

it('without keys from outside the database: NOT PROVEN (exit 3); a bad token for the peer: exit 1', async () => {
  expect(await runCli(bj, ['audit', 'verify'])).toMatchObject({ code: 3, stdout: expect.stringContaining('NOT PROVEN: checkpoint signatures were not checked') });
  const wrong = await runCli({ ...bj, env: { ...bj.env, [PEER_TOKEN_ENV]: 'not-the-admin-token-xyz' } }, ['audit', 'verify', '--jwks-url', peerView, '--token-env', PEER_TOKEN_ENV]);
  expect(wrong).toMatchObject({ code: 1, stderr: `tongban: ${peerView}: HTTP 401 (check the token: --token-env)\n` });
});

it('an edited row: TAMPERED at its seq (exit 2)', async () => {
  const o = attacked((db) => db.prepare(`UPDATE audit_events SET actor = 'nobody' WHERE seq = 2`).run());
  expect(await verify(o)).toMatchObject({ code: 2, stdout: 'audit chain TAMPERED at seq 2: entry content does not match its hash (entry altered)\n' });
});

it('a deleted row: TAMPERED at the row after it', async () => {
  // A row no checkpoint names (deleting a checkpointed row is reported at that checkpoint's seq).
  const seqs = checkpointSeqs(bj);
  let d = 2;
  while (seqs.includes(d)) d++;
  const o = attacked((db) => db.prepare(`DELETE FROM audit_events WHERE seq = ?`).run(d));
  expect(await verify(o)).toMatchObject({ code: 2, stdout: `audit chain TAMPERED at seq ${d + 1}: entries ${d}..${d} are missing: prev_hash does not link to entry ${d - 1}\n` });
});

it('the tail cut off with its checkpoints: the database alone looks whole, the exported trail shows the truncation', async () => {
  const [first, , last] = checkpointSeqs(bj);
  const o = attacked((db) => {
    db.prepare(`DELETE FROM audit_events WHERE seq > ?`).run(first);
    db.prepare(`DELETE FROM audit_checkpoints WHERE seq > ?`).run(first);
  });
  expect(await verify(o)).toMatchObject({ code: 0 });
  const r = await verify(o, '--checkpoints', trail);
  expect(r.code).toBe(2);
  expect(r.stdout).toMatch(
    new RegExp(
      `^audit chain TAMPERED at seq \\d+: the exported checkpoint at seq \\d+ \\(${trail.replace(/[.]/g, '\\.')}:2\\) is beyond the last entry \\(${first}\\): entries were removed \\(truncated\\)\\n$`,
    ),
  );
  expect(last).toBeGreaterThan(first);
});

it('a deleted checkpoint: the next one does not link to it (exit 2); all of them: NOT PROVEN alone, TAMPERED with the trail', async () => {
  const [first, second] = checkpointSeqs(bj);
  const o = attacked((db) => db.prepare(`DELETE FROM audit_checkpoints WHERE seq = ?`).run(first));
  expect(await verify(o)).toMatchObject({
    code: 2,
    stdout: `audit chain TAMPERED at seq ${second}: checkpoint at seq ${second} links to an earlier checkpoint that is not stored: checkpoints were removed\n`,
  });
  const none = attacked((db) => db.prepare(`DELETE FROM audit_checkpoints`).run());
  expect(await verify(none)).toMatchObject({ code: 3, stdout: expect.stringMatching(/^audit chain NOT PROVEN: the chain has \d+ entries and no checkpoint/) });
  expect(await verify(none, '--checkpoints', trail)).toMatchObject({ code: 2, stdout: expect.stringContaining(`is not in the database: the checkpoint was deleted`) });
});

it('a rewritten chain sealed by a key the attacker inserted into signing_keys, named in the kid column: TAMPERED', async () => {
  const pair = await generateKeyPair('EdDSA', { extractable: true });
  const jwk = await exportJWK(pair.publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const seqs = checkpointSeqs(bj);
  const last = seqs.at(-1)!;
  const db = new Database(join(bj.dir, `tongban-${BJ}.sqlite`), { readonly: true });
  const prior = db.prepare('SELECT signature FROM audit_checkpoints WHERE seq = ?').get(seqs.at(-2)) as { signature: string };
  const head = db.prepare('SELECT hash, at FROM audit_events WHERE seq = ?').get(last) as { hash: string; at: number };
  db.close();
  const claims = { iss: BJ, seq: last, hash: head.hash, at: Number(head.at) + 1, prev: createHash('sha256').update(prior.signature).digest('hex') };
  const forged = await new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: 'EdDSA', kid, typ: 'tongban-audit-checkpoint+jwt' }).sign(pair.privateKey);
  const o = attacked((d) => {
    d.prepare(`INSERT INTO signing_keys (kid, alg, public_jwk, private_key_enc, status, created_at, activated_at) VALUES (?, 'EdDSA', ?, 'x', 'ACTIVE', 0, 0)`).run(
      kid,
      JSON.stringify({ ...jwk, kid, alg: 'EdDSA', use: 'sig' }),
    );
    d.prepare(`UPDATE audit_checkpoints SET at = ?, signature = ?, kid = ? WHERE seq = ?`).run(claims.at, forged, kid, last);
  });
  const r = await verify(o);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe(
    `audit chain TAMPERED at seq ${last}: checkpoint at seq ${last}: signature does not verify with the keys given (ERR_JWKS_NO_MATCHING_KEY, header kid ${kid}): forged, or signed by a key not in the key set\n`,
  );
  // A key set saved from the gateway's own JWKS (outside the database) says the same.
  const saved = join(bj.dir, 'saved-jwks.json');
  writeFileSync(saved, JSON.stringify((await call(hb, 'GET', `/admin/peers/${BJ}`, undefined, hb.adminToken)).body));
  expect(await runCli(o, ['audit', 'verify', '--jwks', saved])).toMatchObject({ code: 2 });
});
