import { CompactSign, generateKeyPair } from 'jose';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock } from '@tongban/common';
import { KeyStore, SigningKeyEntity } from '@tongban/keys';
import { MIGRATIONS, buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { AUDIT_CHECKPOINT_TYP, GENESIS_HASH, auditEntryHash } from './audit-chain';
import { verifyAuditChain } from './audit-chain.verifier';
import { verifyStoredAuditChain } from './audit-chain.store';
import { AuditCheckpointEntity } from './audit-checkpoint.entity';
import { AuditEventEntity } from './audit-event.entity';
import { AuditRecord } from './audit-events';
import { AuditLog } from './audit-log.service';

beforeAll(() => {
  Logger.overrideLogger(['error']);
});
afterAll(() => {
  Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);
});

class TestClock extends Clock {
  private t = Date.UTC(2025, 6, 1, 9, 30, 0);
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

const entry = (subject: string, extra: Partial<AuditRecord> = {}): AuditRecord => ({ event: 'verification.requested', actor: 'client:portal', subject, outcome: 'OK', ...extra });
const TABLES = ['audit_events', 'audit_checkpoints'];

describeEachDatabase('audit chain in the database', (fresh, kind) => {
  let ds: DataSource;
  let clock: TestClock;
  let keys: KeyStore;
  let audit: AuditLog;
  const rows = () => ds.getRepository(AuditEventEntity).find({ order: { seq: 'ASC' } });
  const checkpoints = () => ds.getRepository(AuditCheckpointEntity).find({ order: { seq: 'ASC' } });
  const verify = () => verifyStoredAuditChain(ds, { jwks: keys.jwks(), issuer: '110000' });

  /** What an attacker with DDL rights would do first. */
  async function dropAppendOnlyTriggers(): Promise<void> {
    for (const t of TABLES) {
      if (kind === 'postgres') {
        await ds.query(`DROP TRIGGER ${t}_append_only ON ${t}`);
        await ds.query(`DROP TRIGGER ${t}_no_truncate ON ${t}`);
      } else {
        await ds.query(`DROP TRIGGER ${t}_no_update`);
        await ds.query(`DROP TRIGGER ${t}_no_delete`);
      }
    }
  }

  async function write(n: number): Promise<void> {
    for (let i = 1; i <= n; i++) {
      clock.advance(10);
      await audit.recordNow(entry(`s${i}`, { messageId: `m${i}`, details: { i } }));
    }
  }

  beforeEach(async () => {
    clock = new TestClock();
    ds = await openDatabase(buildDataSource(fresh(), [AuditEventEntity, AuditCheckpointEntity, SigningKeyEntity]));
    keys = new KeyStore(ds, clock, { keyEncryptionSecret: 'x'.repeat(32), signingAlg: 'EdDSA' });
    await keys.init();
    audit = new AuditLog(ds, clock, keys, '110000', { checkpointEverySeconds: 0 });
  });

  afterEach(async () => {
    await audit.flush();
    if (ds?.isInitialized) await ds.destroy();
  });

  it('refuses UPDATE and DELETE of audit rows and checkpoints (and TRUNCATE on PostgreSQL)', async () => {
    await write(3);
    await audit.checkpoint();
    await expect(ds.query(`UPDATE audit_events SET subject = 'x' WHERE seq = 2`)).rejects.toThrow('audit_events is append-only');
    await expect(ds.query(`DELETE FROM audit_events WHERE seq = 2`)).rejects.toThrow('audit_events is append-only');
    await expect(ds.query(`DELETE FROM audit_events`)).rejects.toThrow('audit_events is append-only');
    await expect(ds.query(`UPDATE audit_checkpoints SET hash = 'x'`)).rejects.toThrow('audit_checkpoints is append-only');
    await expect(ds.query(`DELETE FROM audit_checkpoints`)).rejects.toThrow('audit_checkpoints is append-only');
    if (kind === 'postgres') {
      await expect(ds.query(`TRUNCATE audit_events`)).rejects.toThrow('audit_events is append-only');
      await expect(ds.query(`TRUNCATE audit_checkpoints`)).rejects.toThrow('audit_checkpoints is append-only');
    }
    // Nothing changed, and the chain still verifies.
    expect((await rows()).map((r) => r.subject)).toEqual(['s1', 's2', 's3']);
    expect(await verify()).toMatchObject({ ok: true, checked: 3, checkpoints: { checked: 1, bad: 0 } });
  });

  it('names the altered row when one subject is changed behind the triggers', async () => {
    await write(10);
    await dropAppendOnlyTriggers();
    await ds.query(`UPDATE audit_events SET subject = 'someone-else' WHERE seq = 6`);
    const report = await verifyAuditChain(await rows(), []);
    expect(report).toMatchObject({ ok: false, checked: 10, firstBadSeq: 6, problem: expect.stringContaining('altered') });
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 6 });
  });

  it('names the row after a deleted middle row, and a truncated tail through the checkpoint', async () => {
    await write(10);
    await audit.checkpoint();
    await dropAppendOnlyTriggers();
    await ds.query(`DELETE FROM audit_events WHERE seq = 4`);
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 5, problem: 'entries 4..4 are missing: prev_hash does not link to entry 3' });

    // Removing the tail leaves a consistent chain; only the checkpoint at seq 10 tells.
    await ds.query(`DELETE FROM audit_events WHERE seq >= 4`);
    expect(await verifyAuditChain(await rows(), [])).toMatchObject({ ok: true, checked: 3 });
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 10, problem: expect.stringContaining('beyond the last entry (3)') });
  });

  it('a rewritten chain (hashes recomputed) is caught by the signed checkpoint', async () => {
    await write(8);
    await audit.checkpoint();
    await dropAppendOnlyTriggers();
    // Alter seq 5 and recompute every later hash, as an attacker without the signing key can.
    await ds.query(`UPDATE audit_events SET subject = 'rewritten' WHERE seq = 5`);
    let prev = (await rows())[3].hash;
    for (const r of (await rows()).slice(4)) {
      const hash = auditEntryHash({ ...r, prevHash: prev });
      await ds.query(`UPDATE audit_events SET prev_hash = '${prev}', hash = '${hash}' WHERE seq = ${r.seq}`);
      prev = hash;
    }
    expect(await verifyAuditChain(await rows(), [])).toMatchObject({ ok: true });
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 8, checkpoints: { checked: 1, bad: 1 }, problem: expect.stringContaining('does not match the chain') });
  });

  it('reports forged checkpoints: another hash signed by our key, or the right hash signed by another key', async () => {
    await write(6);
    const good = await audit.checkpoint();
    expect(good).toMatchObject({ seq: 6 });
    expect(await verify()).toMatchObject({ ok: true, checkpoints: { checked: 1, bad: 0 } });

    // Inserting is allowed (append-only): a forged checkpoint at seq 3 with a made-up hash, validly signed.
    const at = clock.now().getTime();
    const fakeHash = 'ab'.repeat(32);
    await ds.query(
      `INSERT INTO audit_checkpoints (seq, hash, at, signature, kid) VALUES (3, '${fakeHash}', ${at}, '${keys.signJws(AUDIT_CHECKPOINT_TYP, { iss: '110000', seq: 3, hash: fakeHash, at })}', '${keys.activeKid()}')`,
    );
    // The genuine checkpoint at seq 6 no longer follows the checkpoint stored before it: bad too (prev link).
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 3, checkpoints: { checked: 2, bad: 2 }, problem: expect.stringContaining('checkpoint at seq 3 does not match the chain') });

    // The right hash at seq 5, signed by a key that is not ours.
    const row5 = (await rows())[4];
    const { privateKey } = await generateKeyPair('EdDSA');
    const claims = { iss: '110000', seq: 5, hash: row5.hash, at };
    const forged = await new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader({ alg: 'EdDSA', kid: keys.activeKid(), typ: AUDIT_CHECKPOINT_TYP }).sign(privateKey);
    await ds.query(`INSERT INTO audit_checkpoints (seq, hash, at, signature, kid) VALUES (5, '${row5.hash}', ${at}, '${forged}', '${keys.activeKid()}')`);
    const report = await verify();
    expect(report).toMatchObject({ ok: false, firstBadSeq: 3, checkpoints: { checked: 3, bad: 3 } });
    // Without the JWKS only hashes are compared: the forged signature at seq 5 passes, the forged hash does not.
    expect(await verifyStoredAuditChain(ds)).toMatchObject({ ok: false, firstBadSeq: 3, signaturesChecked: false, checkpoints: { checked: 3, bad: 1 } });
    // With only the forged hash out of the way, the foreign signature is what is reported.
    const onlySeq5 = (await checkpoints()).filter((c) => c.seq !== 3);
    expect(await verifyAuditChain(await rows(), onlySeq5, keys.jwks())).toMatchObject({ ok: false, firstBadSeq: 5, problem: expect.stringContaining('signature does not verify') });
  });

  it('checkpoints of a revoked key verify but prove nothing; a revoked kid never excuses a signature that does not verify', async () => {
    await write(2);
    await audit.checkpoint();
    const report = await verifyStoredAuditChain(ds, { jwks: keys.jwks(), revokedKids: [keys.activeKid()] });
    expect(report).toMatchObject({ ok: true, verdict: 'NOT_PROVEN', notProven: ['no checkpoint is signed by a trusted (not revoked) key'], checkpoints: { checked: 1, bad: 0, skipped: 1 } });
    // The old verifier skipped by the stored kid before checking the signature: now the key must verify it.
    expect(await verifyStoredAuditChain(ds, { jwks: { keys: [] }, revokedKids: [keys.activeKid()] })).toMatchObject({
      ok: false,
      verdict: 'TAMPERED',
      firstBadSeq: 2,
      problem: expect.stringContaining('signature does not verify'),
    });
  });

  it('the migration chains rows written before it, in seq order, and AuditLog chains on from them', async () => {
    const migration = MIGRATIONS.map((M) => new M()).find((m) => m.name === 'AuditChain1764700000000')!;
    const runner = ds.createQueryRunner();
    try {
      await migration.down(runner);
      // Legacy rows, including a seq gap (a rolled-back insert on PostgreSQL consumes a sequence value).
      const insert = (seq: number, subject: string, details: string | null) =>
        runner.query(
          `INSERT INTO audit_events (seq, at, event, actor, subject, outcome, reason, message_id, details) VALUES (${seq}, ${1_700_000_000_000 + seq}, 'licences.imported', 'cli', '${subject}', 'OK', NULL, NULL, ${details ? `'${details}'` : 'NULL'})`,
        );
      await insert(1, 'legacy-1', '{"read":1}');
      await insert(2, 'legacy-2', null);
      await insert(5, '遗留-5', '{"n":"通办"}');
      await migration.up(runner);
    } finally {
      await runner.release();
    }
    const legacy = await rows();
    expect(legacy.map((r) => r.seq)).toEqual([1, 2, 5]);
    expect(legacy[0].prevHash).toBe(GENESIS_HASH);
    expect(await verifyStoredAuditChain(ds)).toMatchObject({ ok: true, checked: 3, gaps: 1 });

    await audit.recordNow(entry('new'));
    await audit.checkpoint();
    expect((await rows()).map((r) => r.seq)).toEqual([1, 2, 5, 6]);
    expect(await verify()).toMatchObject({ ok: true, checked: 4, gaps: 1, checkpoints: { checked: 1, bad: 0, lastGoodSeq: 6 } });
    // The triggers are back.
    await expect(ds.query(`DELETE FROM audit_events WHERE seq = 1`)).rejects.toThrow('append-only');
  });
});
