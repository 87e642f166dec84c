import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock } from '@tongban/common';
import { KeyStore, SigningKeyEntity } from '@tongban/keys';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { AuditHashAlg } from './audit-chain';
import { verifyStoredAuditChain } from './audit-chain.store';
import { AuditCheckpointEntity } from './audit-checkpoint.entity';
import { AuditEventEntity } from './audit-event.entity';
import { AuditLog } from './audit-log.service';

beforeAll(() => {
  Logger.overrideLogger(['error']);
});
afterAll(() => {
  Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);
});

class TestClock extends Clock {
  private t = Date.UTC(2026, 0, 5, 9, 0, 0);
  now(): Date {
    return new Date((this.t += 10));
  }
}

// TONGBAN_AUDIT_HASH=SM3 on a real database: entries record their hash in hash_alg, a chain switched
// mid-way (SHA-256 → SM3 → SHA-256, as after two restarts with a changed setting) verifies with
// signed checkpoints across the switches, and an SM3 entry altered behind the triggers is named.
describeEachDatabase('audit chain with SM3 entries', (fresh, kind) => {
  let ds: DataSource;
  let keys: KeyStore;
  const clock = new TestClock();
  const logWith = (hashAlg: AuditHashAlg) => new AuditLog(ds, clock, keys, '110000', { checkpointEverySeconds: 0, hashAlg });
  const verify = () => verifyStoredAuditChain(ds, { jwks: keys.jwks(), issuer: '110000' });

  async function write(log: AuditLog, from: number, n: number): Promise<void> {
    for (let i = from; i < from + n; i++) await log.recordNow({ event: 'verification.requested', actor: 'client:portal', subject: `s${i}`, outcome: 'OK', details: { i } });
    await log.checkpoint();
  }

  beforeAll(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [AuditEventEntity, AuditCheckpointEntity, SigningKeyEntity]));
    keys = new KeyStore(ds, clock, { keyEncryptionSecret: 'x'.repeat(32), signingAlg: 'EdDSA' });
    await keys.init();
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  it('verifies a chain switched SHA-256 → SM3 → SHA-256, each entry recording its hash', async () => {
    await write(logWith('SHA-256'), 1, 3);
    await write(logWith('SM3'), 4, 4);
    await write(logWith('SHA-256'), 8, 2);
    const rows = await ds.getRepository(AuditEventEntity).find({ order: { seq: 'ASC' } });
    expect(rows.map((r) => r.hashAlg)).toEqual([null, null, null, 'SM3', 'SM3', 'SM3', 'SM3', null, null]);
    expect(await verify()).toMatchObject({ ok: true, verdict: 'PROVEN', checked: 9, checkpoints: { checked: 3, bad: 0 }, hashes: { 'SHA-256': 5, SM3: 4 } });
  });

  it('names an altered SM3 entry, and an SM3 entry relabelled as SHA-256', async () => {
    for (const t of ['audit_events', 'audit_checkpoints']) {
      if (kind === 'postgres') await ds.query(`DROP TRIGGER ${t}_append_only ON ${t}`);
      else await ds.query(`DROP TRIGGER ${t}_no_update`);
    }
    await ds.query(`UPDATE audit_events SET subject = 'someone-else' WHERE seq = 5`);
    expect(await verify()).toMatchObject({ ok: false, verdict: 'TAMPERED', firstBadSeq: 5, problem: 'entry content does not match its hash (entry altered)' });
    await ds.query(`UPDATE audit_events SET subject = 's5' WHERE seq = 5`);
    expect(await verify()).toMatchObject({ ok: true, verdict: 'PROVEN' });
    await ds.query(`UPDATE audit_events SET hash_alg = NULL WHERE seq = 6`);
    expect(await verify()).toMatchObject({ ok: false, verdict: 'TAMPERED', firstBadSeq: 6, problem: 'entry content does not match its hash (entry altered)' });
    await ds.query(`UPDATE audit_events SET hash_alg = 'SHA256' WHERE seq = 6`);
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 6, problem: 'entry has an unknown hash_alg "SHA256" (entry altered)' });
  });
});
