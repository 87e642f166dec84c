import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * Whether a step's deadline was computed past the end of the working-day calendar (holidays of
 * those days unknown, counted as working days): the deadline may be too early and is provisional.
 */
export class StepDueProvisional1765580000000 implements MigrationInterface {
  name = 'StepDueProvisional1765580000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('case_steps', new TableColumn({ name: 'due_at_provisional', type: 'boolean', isNullable: false, default: 'false' }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('case_steps', 'due_at_provisional');
  }
}
