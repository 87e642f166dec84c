import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { Metrics } from './metrics.service';
import { registerAuditGauges, registerOperationalGauges } from './operational-gauges';

jest.mock('./case-counts', () => ({ caseCounts: jest.fn(async () => ({ open: 4, overdue: 1 })) }));

describe('registerOperationalGauges', () => {
  beforeAll(() => {
    Logger.overrideLogger(false);
  });
  const now = Date.parse('2026-11-25T10:00:00.000Z');

  it('turns outbox depth, case counts and the active key into gauges, reading each source once per scrape', async () => {
    const depth = jest.fn(async () => [
      { status: 'PENDING', peer: '130000', count: 3, oldest: '2026-11-25T09:59:00.000Z' },
      { status: 'DEAD', peer: '440000', count: 1, oldest: '2026-11-18T10:00:00.000Z' },
    ]);
    const keys = {
      activeKid: () => 'k2',
      list: () => [
        { kid: 'k1', activatedAt: '2026-01-01T00:00:00.000Z' },
        { kid: 'k2', activatedAt: '2026-11-24T10:00:00.000Z' },
      ],
    };
    const m = new Metrics();
    const names = registerOperationalGauges(m, { outbox: { depth }, keys, ds: {} as DataSource, openStepStatuses: ['ASSIGNED'], now: () => now });
    expect(names).toHaveLength(5);
    const text = await m.render();
    expect(text).toContain('tongban_outbox_messages{peer="130000",status="PENDING"} 3');
    expect(text).toContain('tongban_outbox_messages{peer="440000",status="DEAD"} 1');
    expect(text).toContain('tongban_outbox_oldest_age_seconds{peer="130000",status="PENDING"} 60');
    expect(text).toContain('tongban_outbox_oldest_age_seconds{peer="440000",status="DEAD"} 604800');
    expect(text).toContain('tongban_cases{state="OPEN"} 4');
    expect(text).toContain('tongban_cases_overdue 1');
    expect(text).toContain('tongban_signing_key_age_seconds 86400');
    expect(depth).toHaveBeenCalledTimes(1);
  });
});

describe('registerAuditGauges', () => {
  const now = Date.parse('2026-11-25T10:00:00.000Z');

  it('shows what the newest checkpoint does not cover and how old it is, reading the status once per scrape', async () => {
    const sealingStatus = jest.fn(async () => ({ headSeq: 120, sealedSeq: 100, lastCheckpointAt: now - 240_000, oldestUnsealedAt: now - 90_000 }));
    const m = new Metrics();
    expect(registerAuditGauges(m, { sealingStatus }, () => now)).toEqual(['tongban_audit_unsealed_entries', 'tongban_audit_unsealed_age_seconds', 'tongban_audit_last_checkpoint_age_seconds']);
    const text = await m.render();
    expect(text).toContain('tongban_audit_unsealed_entries 20');
    expect(text).toContain('tongban_audit_unsealed_age_seconds 90');
    expect(text).toContain('tongban_audit_last_checkpoint_age_seconds 240');
    expect(sealingStatus).toHaveBeenCalledTimes(1);
  });

  it('all sealed: 0 unsealed, age 0; no checkpoint yet: the checkpoint age is NaN', async () => {
    const m = new Metrics();
    registerAuditGauges(m, { sealingStatus: async () => ({ headSeq: 3, sealedSeq: 0, oldestUnsealedAt: now - 5_000 }) }, () => now);
    const text = await m.render();
    expect(text).toContain('tongban_audit_unsealed_entries 3');
    expect(text).toContain('tongban_audit_unsealed_age_seconds 5');
    expect(text).toMatch(/^tongban_audit_last_checkpoint_age_seconds NaN$/im); // prom-client writes "Nan"
    const sealed = new Metrics();
    registerAuditGauges(sealed, { sealingStatus: async () => ({ headSeq: 3, sealedSeq: 3, lastCheckpointAt: now }) }, () => now);
    expect(await sealed.render()).toContain('tongban_audit_unsealed_age_seconds 0');
  });
});
