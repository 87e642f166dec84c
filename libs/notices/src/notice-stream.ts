import { createHash } from 'node:crypto';
import { LicenceStatus, Timestamp } from '@tongban/proto';

/**
 * The delivery stream of one licence's notices: `lic-` + the first 32 characters of
 * base64url(SHA-256(licence id)). Licence ids are longer than a stream may be (64), and the stream
 * orders every notice of one licence to one peer.
 */
export function noticeStream(licenceId: string): string {
  return `lic-${createHash('sha256').update(licenceId, 'utf8').digest('base64url').slice(0, 32)}`;
}

/** The statuses a notice may carry, and their wire values. */
export type NoticeStatus = 'VALID' | 'SUSPENDED' | 'REVOKED';
export const NOTICE_STATUS_TO_PROTO: Record<NoticeStatus, LicenceStatus> = {
  VALID: LicenceStatus.LICENCE_STATUS_VALID,
  SUSPENDED: LicenceStatus.LICENCE_STATUS_SUSPENDED,
  REVOKED: LicenceStatus.LICENCE_STATUS_REVOKED,
};

/** A status notice as both sides handle it. */
export interface Notice {
  licenceId: string;
  licenceType: string;
  status: NoticeStatus;
  previous: NoticeStatus;
  version: number;
  changedAt: Date;
  reason: string;
}

export function toTimestamp(d: Date): Timestamp {
  return { seconds: String(Math.floor(d.getTime() / 1000)), nanos: (d.getTime() % 1000) * 1e6 };
}
