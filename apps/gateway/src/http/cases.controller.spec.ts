import 'reflect-metadata';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import { COUNTS_NO_WRITES, WRITES_ONE_TRANSACTION } from '@tongban/persistence';
import { CasesController } from './cases.controller';

const config = (handler: keyof CasesController): unknown => Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, Object.getOwnPropertyDescriptor(CasesController.prototype, handler)?.value as object);

describe('CasesController: which requests count their writes (main.ts onRequest, confirmed-writes.ts)', () => {
  it('the hot case and task routes are served without counting, so without async hooks', () => {
    // One case transaction, its answer read with readAfterCommit: the faults say what was stored.
    expect(config('open')).toEqual(WRITES_ONE_TRANSACTION);
    expect(config('act')).toEqual(WRITES_ONE_TRANSACTION);
    // Reads write nothing.
    for (const read of ['list', 'view', 'listTasks'] as const) expect(config(read)).toEqual(COUNTS_NO_WRITES);
  });

  it('the other write routes are counted', () => {
    for (const counted of ['cancel', 'postal', 'resultDelivery', 'applicant'] as const) expect(config(counted)).toBeUndefined();
  });
});
