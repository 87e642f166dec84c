import { QueryRunner } from 'typeorm';

/** Whether a migration runs on PostgreSQL. `q.connection` may be absent when the migration runs against a recording stub (migration tests). */
export function isPostgres(q: QueryRunner): boolean {
  return (q as { connection?: { options?: { type?: string } } }).connection?.options?.type === 'postgres';
}
