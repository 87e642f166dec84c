import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { Metrics } from './metrics.service';
import { registerOperationalGauges } from './operational-gauges';

jest.mock('./case-counts', () => ({ caseCounts: jest.fn(async () => ({ byState: { OPEN: 4, COMPLETED: 9 }, overdue: 1 })) }));

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
    expect(text).toContain('tongban_cases{state="COMPLETED"} 9');
    expect(text).toContain('tongban_cases_overdue 1');
    expect(text).toContain('tongban_signing_key_age_seconds 86400');
    expect(depth).toHaveBeenCalledTimes(1);
  });
});
