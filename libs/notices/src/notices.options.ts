/** Limits of licence status notices (TONGBAN_NOTICE_*). */
export interface NoticesOptions {
  /** Live subscriptions one peer may hold at this issuer; past it a query's subscription is refused (SUBSCRIPTION_LIMIT). */
  maxPerPeer: number;
  /** How long a subscription lasts after the query that made (or renewed) it; at most 180 days. */
  ttlMs: number;
}

export const NOTICES_OPTIONS = Symbol('NOTICES_OPTIONS');

/** The longest a subscription may last (issue 12). */
export const MAX_SUBSCRIPTION_TTL_MS = 180 * 24 * 3600_000;

/** Payload types of notices (bodies of tongban.federation.v1.DeliveryPayload). */
export const NoticeMessage = {
  StatusChanged: 'tongban.federation.v1.LicenceStatusChanged',
  Cancelled: 'tongban.federation.v1.LicenceSubscriptionCancelled',
} as const;

/** Webhook event type of a notice delivered to a local system. */
export const LICENCE_STATUS_CHANGED_EVENT = 'licence.status.changed';

/** A notify_ref: the asker's opaque subscription reference. */
export const NOTIFY_REF = /^[A-Za-z0-9_-]{1,64}$/;
