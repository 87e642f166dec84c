import { DataSource } from 'typeorm';
import { RetentionPolicy, deletedRows, placeholder } from '@tongban/persistence';

/**
 * Delivered outbox messages older than `days` (by delivery time). Kept: PENDING and DEAD rows, and
 * the highest `seq` of each (peer, stream) whatever its age, because the next message's `seq` is
 * that one + 1 (docs/protocol-cases.md §1.6).
 */
export function outboxRetention(days: number): RetentionPolicy {
  return {
    table: 'outbox_messages',
    days,
    deleteBatch: (ds: DataSource, cutoffMs: number, limit: number) =>
      deletedRows(
        ds,
        `DELETE FROM outbox_messages WHERE id IN (
           SELECT o.id FROM outbox_messages o
            WHERE o.status = 'DELIVERED' AND o.delivered_at < ${placeholder(ds, 1)}
              AND o.seq < (SELECT MAX(h.seq) FROM outbox_messages h WHERE h.peer = o.peer AND h.stream = o.stream)
            LIMIT ${Number(limit)})`,
        [cutoffMs],
      ),
  };
}

/**
 * Inbox records older than `days`. Kept: the highest `seq` of each (sender, stream), the stream's
 * watermark, so the next expected `seq` never goes back: a re-delivered old message whose record
 * is gone still finds its position used and gets a REJECTED receipt, never applied twice
 * (docs/protocol-cases.md §1.3 step 6).
 */
export function inboxRetention(days: number): RetentionPolicy {
  return {
    table: 'inbox_messages',
    days,
    deleteBatch: (ds: DataSource, cutoffMs: number, limit: number) =>
      deletedRows(
        ds,
        `DELETE FROM inbox_messages WHERE (sender, message_id) IN (
           SELECT i.sender, i.message_id FROM inbox_messages i
            WHERE i.received_at < ${placeholder(ds, 1)}
              AND i.seq < (SELECT MAX(h.seq) FROM inbox_messages h WHERE h.sender = i.sender AND h.stream = i.stream)
            LIMIT ${Number(limit)})`,
        [cutoffMs],
      ),
  };
}
