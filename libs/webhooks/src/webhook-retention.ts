import { DataSource } from 'typeorm';
import { RetentionPolicy, deletedRows, placeholder } from '@tongban/persistence';

/** Webhook deliveries answered 2xx more than `days` ago. PENDING and DEAD ones (re-queueable) stay. */
export function webhookDeliveriesRetention(days: number): RetentionPolicy {
  return {
    table: 'webhook_deliveries',
    days,
    deleteBatch: (ds: DataSource, cutoffMs: number, limit: number) =>
      deletedRows(
        ds,
        `DELETE FROM webhook_deliveries WHERE id IN (
           SELECT d.id FROM webhook_deliveries d
            WHERE d.status = 'DELIVERED' AND d.created_at < ${placeholder(ds, 1)} AND d.delivered_at < ${placeholder(ds, 2)}
            LIMIT ${Number(limit)})`,
        [cutoffMs, cutoffMs],
      ),
  };
}
