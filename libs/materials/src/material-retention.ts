import { DataSource } from 'typeorm';
import { RetentionPolicy, placeholder, runInTransaction } from '@tongban/persistence';

// At most this many files per transaction: a file is up to ~80 chunk rows of 256 KiB.
const FILES_PER_BATCH = 50;

/**
 * Material files (row, chunks, finished transfers) of cases closed more than `days` ago. Kept: the
 * files of open cases and any file with a PENDING transfer. Off (0) by default: these are case
 * records, and how long they are kept is a records-policy decision (docs/operations.md §10.8).
 */
export function materialRetention(days: number): RetentionPolicy {
  return {
    table: 'case_materials',
    days,
    deleteBatch: async (ds: DataSource, cutoffMs: number, limit: number) => {
      const n = Math.max(1, Math.min(limit, FILES_PER_BATCH));
      const ids = (
        await ds.query<{ id: string }[]>(
          `SELECT m.storage_id AS id FROM case_materials m JOIN cases c ON c.id = m.case_id
          WHERE c.state <> 'OPEN' AND c.closed_at < ${placeholder(ds, 1)}
            AND NOT EXISTS (SELECT 1 FROM material_transfers t WHERE t.material_id = m.storage_id AND t.status = 'PENDING')
          LIMIT ${n}`,
          [cutoffMs],
        )
      ).map((r) => r.id);
      if (ids.length === 0) return { rows: {}, more: false };
      const list = ids.map((_, i) => placeholder(ds, i + 1)).join(', ');
      // One transaction: a file is never left half deleted (its row without its bytes fails its integrity check).
      return runInTransaction(ds, async (tx) => {
        const run = async (sql: string) => Number(((await tx.queryRunner!.query(sql, ids, true)) as { affected?: number }).affected ?? 0);
        const material_chunks = await run(`DELETE FROM material_chunks WHERE material_id IN (${list})`);
        const material_transfers = await run(`DELETE FROM material_transfers WHERE status <> 'PENDING' AND material_id IN (${list})`);
        const case_materials = await run(`DELETE FROM case_materials WHERE storage_id IN (${list})`);
        return { rows: { case_materials, material_chunks, material_transfers }, more: ids.length === n };
      });
    },
  };
}
