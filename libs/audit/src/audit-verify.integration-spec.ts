import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactSign, exportJWK, calculateJwkThumbprint, generateKeyPair } from 'jose';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock } from '@tongban/common';
import { KeyStore, SigningKeyEntity } from '@tongban/keys';
import { buildDataSource, openDatabase, runInTransaction } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { AUDIT_CHECKPOINT_TYP, GENESIS_HASH, auditEntryHash, checkpointLink } from './audit-chain';
import { AuditCheckpointEntity } from './audit-checkpoint.entity';
import { AuditEventEntity } from './audit-event.entity';
import { AuditLog } from './audit-log.service';
import { AUDIT_VERIFY_EXIT, auditVerifyCommand } from './audit-verify-cli';

// `tongban audit verify` (the command's library half) against a real database, attacked by someone
// who can write it: every tamper ends non-zero with a message naming what happened.
beforeAll(() => {
  Logger.overrideLogger(['error']);
});
afterAll(() => {
  Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);
});

class TestClock extends Clock {
  t = Date.UTC(2026, 0, 5, 9);
  now(): Date {
    return new Date(this.t);
  }
}

describeEachDatabase('tongban audit verify, strict', (fresh, kind) => {
  let ds: DataSource;
  let clock: TestClock;
  let keys: KeyStore;
  let audit: AuditLog;
  let dir: string;
  let jwksFile: string;
  let trail: string;
  const failures: string[] = [];

  const run = (o: { jwks?: boolean; checkpoints?: boolean; now?: number } = {}) =>
    auditVerifyCommand(ds, {
      code: '110000',
      jwksFile: o.jwks === false ? undefined : jwksFile,
      checkpointFiles: o.checkpoints ? [trail] : [],
      intervalSeconds: 300,
      intervalEntries: 1000,
      now: o.now ?? clock.t,
    });

  async function write(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      clock.t += 1000;
      await audit.recordNow({ event: 'verification.requested', actor: 'client:portal', subject: `s${i}`, outcome: 'OK' });
    }
  }

  async function dropTriggers(): Promise<void> {
    for (const t of ['audit_events', 'audit_checkpoints']) {
      if (kind === 'postgres') {
        await ds.query(`DROP TRIGGER ${t}_append_only ON ${t}`);
        await ds.query(`DROP TRIGGER ${t}_no_truncate ON ${t}`);
      } else {
        await ds.query(`DROP TRIGGER ${t}_no_update`);
        await ds.query(`DROP TRIGGER ${t}_no_delete`);
      }
    }
  }

  /** Writes 6 entries sealed at 3 and 6, exported to the trail. */
  async function sealedLog(): Promise<void> {
    await write(3);
    await audit.checkpoint();
    await write(3);
    await audit.checkpoint();
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tongban-audit-'));
    trail = join(dir, 'checkpoints.jsonl');
    clock = new TestClock();
    ds = await openDatabase(buildDataSource(fresh(), [AuditEventEntity, AuditCheckpointEntity, SigningKeyEntity]));
    keys = new KeyStore(ds, clock, { keyEncryptionSecret: 'x'.repeat(32), signingAlg: 'EdDSA' });
    await keys.init();
    // The keys as a peer sees them, saved outside the database before anything happens.
    jwksFile = join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify(keys.jwks()));
    failures.length = 0;
    audit = new AuditLog(ds, clock, keys, '110000', { checkpointEverySeconds: 0, checkpointFile: trail, onCheckpointFailure: (s) => failures.push(s) });
  });

  afterEach(async () => {
    if (ds?.isInitialized) await ds.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an untouched log is PROVEN (exit 0); each checkpoint is in the trail and links to the one before', async () => {
    await sealedLog();
    const lines = readFileSync(trail, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; signature: string });
    expect(lines.map((l) => l.seq)).toEqual([3, 6]);
    const claims = lines.map((l) => JSON.parse(Buffer.from(l.signature.split('.')[1], 'base64url').toString()) as { prev: string });
    expect(claims[0].prev).toBe(GENESIS_HASH);
    expect(claims[1].prev).toBe(checkpointLink(lines[0].signature));
    expect(await run({ checkpoints: true })).toEqual({
      exitCode: AUDIT_VERIFY_EXIT.PROVEN,
      stdout: 'audit chain PROVEN: 6 entries, 2 checkpoints, the newest at seq 6\n',
      stderr: expect.stringContaining('2 exported checkpoint(s) compared'),
    });
    expect(await audit.sealingStatus()).toEqual({ headSeq: 6, sealedSeq: 6, lastCheckpointAt: clock.t });
  });

  it('zero checkpoints: NOT PROVEN (exit 3); without outside keys: NOT PROVEN', async () => {
    await write(2);
    expect(await run()).toMatchObject({
      exitCode: AUDIT_VERIFY_EXIT.NOT_PROVEN,
      stdout: 'audit chain NOT PROVEN: the chain has 2 entries and no checkpoint: nothing proves it was not rewritten or cut\n',
    });
    await audit.checkpoint();
    expect(await run({ jwks: false })).toMatchObject({ exitCode: AUDIT_VERIFY_EXIT.NOT_PROVEN, stdout: expect.stringContaining('signatures were not checked') });
  });

  it('checkpoints signed by an SM2SM3 key (a gateway rotated to 国密) are PROVEN with the JWK Set; an altered checkpoint signature is TAMPERED', async () => {
    await runInTransaction(ds.manager, async (tx) => {
      await keys.setStatus(tx, keys.activeKid(), 'RETIRED');
      await keys.insertKey(tx, 'SM2SM3', 'ACTIVE', clock.now());
    });
    await keys.refresh();
    writeFileSync(jwksFile, JSON.stringify(keys.jwks()));
    await sealedLog();
    const [cp] = await ds.getRepository(AuditCheckpointEntity).find({ order: { seq: 'DESC' }, take: 1 });
    expect(JSON.parse(Buffer.from(cp.signature.split('.')[0], 'base64url').toString())).toMatchObject({ alg: 'SM2SM3', kid: keys.activeKid() });
    expect(await run()).toMatchObject({ exitCode: AUDIT_VERIFY_EXIT.PROVEN });
    await dropTriggers();
    const sig = Buffer.from(cp.signature.split('.')[2], 'base64url');
    sig[9] ^= 1;
    const forged = `${cp.signature.slice(0, cp.signature.lastIndexOf('.'))}.${sig.toString('base64url')}`;
    await ds.getRepository(AuditCheckpointEntity).update({ seq: cp.seq }, { signature: forged });
    expect(await run()).toMatchObject({ exitCode: AUDIT_VERIFY_EXIT.TAMPERED, stdout: expect.stringContaining('ERR_JWS_SIGNATURE_VERIFICATION_FAILED') });
  });

  it('an edited row: TAMPERED (exit 2) at its seq', async () => {
    await sealedLog();
    await dropTriggers();
    await ds.query(`UPDATE audit_events SET actor = 'nobody' WHERE seq = 2`);
    expect(await run()).toMatchObject({ exitCode: AUDIT_VERIFY_EXIT.TAMPERED, stdout: 'audit chain TAMPERED at seq 2: entry content does not match its hash (entry altered)\n' });
  });

  it('a deleted row: TAMPERED at the next one', async () => {
    await sealedLog();
    await dropTriggers();
    await ds.query(`DELETE FROM audit_events WHERE seq = 4`);
    expect(await run()).toMatchObject({ exitCode: 2, stdout: 'audit chain TAMPERED at seq 5: entries 4..4 are missing: prev_hash does not link to entry 3\n' });
  });

  it('a deleted tail with its checkpoint: the exported trail shows the truncation', async () => {
    await sealedLog();
    await dropTriggers();
    await ds.query(`DELETE FROM audit_events WHERE seq > 3`);
    await ds.query(`DELETE FROM audit_checkpoints WHERE seq > 3`);
    expect(await run()).toMatchObject({ exitCode: AUDIT_VERIFY_EXIT.PROVEN }); // the database alone is consistent
    expect(await run({ checkpoints: true })).toMatchObject({
      exitCode: 2,
      stdout: `audit chain TAMPERED at seq 6: the exported checkpoint at seq 6 (${trail}:2) is beyond the last entry (3): entries were removed (truncated)\n`,
    });
    // And once the interval has passed twice, the database alone says NOT PROVEN for entries written after it.
    await write(1);
    expect(await run({ now: clock.t + 601_000 })).toMatchObject({
      exitCode: 3,
      stdout: expect.stringContaining('entries after seq 3 are not covered by a trusted checkpoint and the oldest is 601 s old'),
    });
  });

  it('a deleted checkpoint: the next one no longer links (TAMPERED); the newest one: the trail has it', async () => {
    await sealedLog();
    await write(1);
    await audit.checkpoint();
    await dropTriggers();
    await ds.query(`DELETE FROM audit_checkpoints WHERE seq = 6`);
    expect(await run()).toMatchObject({ exitCode: 2, stdout: expect.stringContaining('checkpoint at seq 7 does not link to the checkpoint stored before it (seq 3)') });
    await ds.query(`DELETE FROM audit_checkpoints WHERE seq = 7`);
    expect(await run({ checkpoints: true })).toMatchObject({
      exitCode: 2,
      stdout: `audit chain TAMPERED at seq 6: the exported checkpoint at seq 6 (${trail}:2) is not in the database: the checkpoint was deleted\n`,
    });
  });

  it('a forged checkpoint whose kid column points to a key the attacker inserted in the database: TAMPERED', async () => {
    await sealedLog();
    await dropTriggers();
    // Rewrite entry 5 and every later hash, then seal the result with the attacker's own key, which
    // is also inserted into signing_keys (where the old verifier looked its keys up).
    await ds.query(`UPDATE audit_events SET subject = 'rewritten' WHERE seq = 5`);
    const rows = await ds.getRepository(AuditEventEntity).find({ order: { seq: 'ASC' } });
    let prev = rows[3].hash;
    for (const r of rows.slice(4)) {
      const hash = auditEntryHash({ ...r, prevHash: prev });
      await ds.query(`UPDATE audit_events SET prev_hash = '${prev}', hash = '${hash}' WHERE seq = ${r.seq}`);
      prev = hash;
    }
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    const jwk = await exportJWK(pair.publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    await ds.getRepository(SigningKeyEntity).insert({
      kid,
      alg: 'EdDSA',
      publicJwk: JSON.stringify({ ...jwk, kid, alg: 'EdDSA', use: 'sig' }),
      privateKeyEnc: 'x',
      status: 'ACTIVE',
      createdAt: clock.now(),
      activatedAt: clock.now(),
      retiredAt: null,
      revokedAt: null,
      revocationReason: null,
    });
    const [c3] = await ds.query<{ signature: string }[]>(`SELECT signature FROM audit_checkpoints WHERE seq = 3`);
    const claims = { iss: '110000', seq: 6, hash: prev, at: clock.t, prev: checkpointLink(c3.signature) };
    const forged = await new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: 'EdDSA', kid, typ: AUDIT_CHECKPOINT_TYP }).sign(pair.privateKey);
    await ds.query(`UPDATE audit_checkpoints SET hash = '${prev}', at = ${clock.t}, signature = '${forged}', kid = '${kid}' WHERE seq = 6`);
    const r = await run();
    expect(r.exitCode).toBe(AUDIT_VERIFY_EXIT.TAMPERED);
    expect(r.stdout).toBe(
      `audit chain TAMPERED at seq 6: checkpoint at seq 6: signature does not verify with the keys given (ERR_JWKS_NO_MATCHING_KEY, header kid ${kid}): forged, or signed by a key not in the key set\n`,
    );
    // The trail still holds the genuine checkpoint 6.
    expect(await run({ checkpoints: true })).toMatchObject({ exitCode: 2 });
  });

  it('a key list with statuses (a peer view): checkpoints of a REVOKED key prove nothing; a private key or another participant is refused', async () => {
    await sealedLog();
    const kid = keys.activeKid();
    writeFileSync(jwksFile, JSON.stringify({ code: '110000', keys: [{ kid, status: 'REVOKED', jwk: keys.publicJwk(kid) }] }));
    expect(await run()).toMatchObject({ exitCode: 3, stdout: 'audit chain NOT PROVEN: no checkpoint is signed by a trusted (not revoked) key\n' });
    writeFileSync(jwksFile, JSON.stringify({ code: '130000', keys: [{ kid, status: 'ACTIVE', jwk: keys.publicJwk(kid) }] }));
    expect(await run()).toMatchObject({ exitCode: 1, stderr: `tongban: ${jwksFile}: the keys are those of participant 130000, not of this gateway (110000)\n` });
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...keys.publicJwk(kid), d: 'secret' }] }));
    expect(await run()).toMatchObject({ exitCode: 1, stderr: `tongban: ${jwksFile}: keys[0] is a private key: give public keys only\n` });
  });

  it('checkpoints every N entries; a failed export is counted and logged, the checkpoint stays', async () => {
    const byCount = new AuditLog(ds, clock, keys, '110000', {
      checkpointEverySeconds: 0,
      checkpointEveryEntries: 3,
      checkpointFile: join(dir, 'missing-dir', 'x.jsonl'),
      onCheckpointFailure: (s) => failures.push(s),
    });
    await byCount.checkpoint(); // empty: nothing
    for (let i = 0; i < 3; i++) await byCount.recordNow({ event: 'verification.requested', actor: 'a', subject: `s${i}`, outcome: 'OK' });
    // The count trigger starts a checkpoint after the append's commit.
    await byCount.idle();
    expect(await byCount.sealingStatus()).toMatchObject({ headSeq: 3, sealedSeq: 3 });
    expect(failures).toEqual(['export']);
    await byCount.recordNow({ event: 'verification.requested', actor: 'a', subject: 's3', outcome: 'OK' });
    await byCount.idle();
    expect(await byCount.sealingStatus()).toMatchObject({ headSeq: 4, sealedSeq: 3 });
  });
});
