import { DataSource } from 'typeorm';
import { RetentionPolicy, deletedRows, placeholder } from '@tongban/persistence';

/** Days an expired subscription is kept (listed nowhere, notified never) before the retention job deletes it. */
export const EXPIRED_SUBSCRIPTION_DAYS = 7;

/**
 * Subscriptions (issuer side `licence_subscriptions`, asker side `notice_subscriptions`) that expired
 * more than EXPIRED_SUBSCRIPTION_DAYS ago: a query with the same reference would make a new one.
 */
export function noticeSubscriptionsRetention(table: 'licence_subscriptions' | 'notice_subscriptions'): RetentionPolicy {
  return {
    table,
    days: EXPIRED_SUBSCRIPTION_DAYS,
    deleteBatch: (ds: DataSource, cutoffMs: number, limit: number) =>
      deletedRows(ds, `DELETE FROM ${table} WHERE id IN (SELECT s.id FROM ${table} s WHERE s.expires_at < ${placeholder(ds, 1)} LIMIT ${Number(limit)})`, [cutoffMs]),
  };
}
