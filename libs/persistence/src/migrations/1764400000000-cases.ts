import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** Cross-province cases: the case (owner's record or a participant's replica), its steps, its history. */
export class Cases1764400000000 implements MigrationInterface {
  name = 'Cases1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'cases',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'collaboration_id', type: 'varchar', length: '64', isUnique: true },
          { name: 'item_code', type: 'varchar', length: '40' },
          { name: 'item_version', type: 'varchar', length: '40' },
          { name: 'item_json', type: 'text' },
          { name: 'mode', type: 'varchar', length: '16' },
          { name: 'owner', type: 'varchar', length: '6' },
          { name: 'state', type: 'varchar', length: '16' },
          { name: 'participants', type: 'text' },
          { name: 'applicant_name', type: 'varchar', length: '100' },
          { name: 'applicant_id_number', type: 'varchar', length: '18', isNullable: true },
          { name: 'received_json', type: 'text' },
          { name: 'materials_json', type: 'text' },
          { name: 'current_step', type: 'integer' },
          { name: 'created_at', type: 'bigint' },
          { name: 'updated_at', type: 'bigint' },
          { name: 'closed_at', type: 'bigint', isNullable: true },
          { name: 'close_reason', type: 'varchar', length: '500', isNullable: true },
          { name: 'refused_step', type: 'integer', isNullable: true },
        ],
        indices: [{ name: 'ix_cases_state', columnNames: ['state'] }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'case_steps',
        columns: [
          { name: 'case_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'idx', type: 'integer', isPrimary: true },
          { name: 'role', type: 'varchar', length: '30' },
          { name: 'province', type: 'varchar', length: '6' },
          { name: 'action', type: 'varchar', length: '40' },
          { name: 'name', type: 'varchar', length: '100' },
          { name: 'time_limit_days', type: 'integer' },
          { name: 'status', type: 'varchar', length: '24' },
          { name: 'assigned_at', type: 'bigint', isNullable: true },
          { name: 'due_at', type: 'bigint', isNullable: true },
          { name: 'accepted_at', type: 'bigint', isNullable: true },
          { name: 'finished_at', type: 'bigint', isNullable: true },
          { name: 'actor', type: 'varchar', length: '100', isNullable: true },
          { name: 'inputs_json', type: 'text', isNullable: true },
          { name: 'outputs_json', type: 'text', isNullable: true },
          { name: 'reason', type: 'varchar', length: '500', isNullable: true },
        ],
        foreignKeys: [{ columnNames: ['case_id'], referencedTableName: 'cases', referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
        indices: [{ name: 'ix_case_steps_province_status', columnNames: ['province', 'status'] }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'case_events',
        columns: [
          { name: 'seq', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'case_id', type: 'varchar', length: '64' },
          { name: 'at', type: 'bigint' },
          { name: 'type', type: 'varchar', length: '40' },
          { name: 'province', type: 'varchar', length: '6' },
          { name: 'actor', type: 'varchar', length: '100' },
          { name: 'step_index', type: 'integer', isNullable: true },
          { name: 'details_json', type: 'text', isNullable: true },
        ],
      }),
    );
    await q.createIndex('case_events', new TableIndex({ name: 'ix_case_events_case', columnNames: ['case_id', 'seq'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['case_events', 'case_steps', 'cases']) await q.dropTable(t);
  }
}
