import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';

/**
 * The case list (`GET /v1/cases`, newest first, optionally by state) read every case and sorted it:
 * its cost grew with the number of cases kept. These indexes serve the order (and the state filter)
 * directly; (state, created_at) also serves what ix_cases_state served, so that one goes.
 */
export class CaseListIndexes1765640000000 implements MigrationInterface {
  name = 'CaseListIndexes1765640000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('cases', new TableIndex({ name: 'ix_cases_created', columnNames: ['created_at', 'id'] }));
    await q.createIndex('cases', new TableIndex({ name: 'ix_cases_state_created', columnNames: ['state', 'created_at', 'id'] }));
    await q.dropIndex('cases', 'ix_cases_state');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.createIndex('cases', new TableIndex({ name: 'ix_cases_state', columnNames: ['state'] }));
    await q.dropIndex('cases', 'ix_cases_state_created');
    await q.dropIndex('cases', 'ix_cases_created');
  }
}
