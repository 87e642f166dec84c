import { Inject, Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuditLog } from '@tongban/audit';
import { SELF_CODE } from '@tongban/common';
import { Dispatcher, Outbox } from '@tongban/delivery';
import { LicenceStatusListener, LicenceStatusService } from '@tongban/licences';
import { LicenceStatusChanged } from '@tongban/proto';
import { afterCommit } from '@tongban/persistence';
import { LicenceSubscriptions } from './licence-subscriptions.service';
import { NoticeReceiver } from './notice-receiver.service';
import { NoticeMessage } from './notices.options';
import { NOTICE_STATUS_TO_PROTO, Notice, noticeStream, toTimestamp } from './notice-stream';

/** The fields of LicenceStatusChange (libs/licences/src/licence-status.ts) that notices use. */
export interface LicenceChange {
  licenceId: string;
  typeCode: string;
  status: Notice['status'];
  previous: Notice['status'];
  version: number;
  changedAt: Date;
  reason: string;
  /** Of the request that made the change, if any: stored with each notice (outbox correlation_id). */
  correlationId?: string;
}

/** What one change sent. */
export interface NoticesSent {
  peers: string[];
  /** Webhook deliveries queued for this gateway's own clients (licences of its own province). */
  localWebhooks: number;
}

/**
 * Issuer side of notices: for a licence status change, inside the transaction that records it,
 * enqueues one signed LicenceStatusChanged per subscribed peer on the licence's own stream (so a
 * peer gets the notices of one licence in version order), and applies it to this gateway's own
 * clients that subscribed to a licence of their own province. Registered with LicenceStatusService.
 */
@Injectable()
export class NoticeSender implements LicenceStatusListener, OnModuleInit {
  constructor(
    private readonly subscriptions: LicenceSubscriptions,
    private readonly outbox: Outbox,
    private readonly dispatcher: Dispatcher,
    private readonly receiver: NoticeReceiver,
    private readonly audit: AuditLog,
    @Inject(SELF_CODE) private readonly self: string,
    @Optional() private readonly statuses?: LicenceStatusService,
  ) {}

  onModuleInit(): void {
    this.statuses?.register(this);
  }

  /** LicenceStatusListener: called by LicenceStatusService.change inside its transaction. */
  async onLicenceStatusChange(change: LicenceChange, em: EntityManager): Promise<void> {
    await this.send(change, em);
  }

  /** Enqueues the notices of one change with `tx`; returns who gets them. */
  async send(change: LicenceChange, tx: EntityManager): Promise<NoticesSent> {
    const peers = (await this.subscriptions.subscribers(tx, change.licenceId)).filter((p) => p !== this.self);
    const reason = Array.from(change.reason).slice(0, 200).join('');
    const body = LicenceStatusChanged.encode({
      licenceId: change.licenceId,
      licenceType: change.typeCode,
      status: NOTICE_STATUS_TO_PROTO[change.status],
      previous: NOTICE_STATUS_TO_PROTO[change.previous],
      version: String(change.version),
      changedAt: toTimestamp(change.changedAt),
      reason,
    }).finish();
    const stream = noticeStream(change.licenceId);
    for (const peer of peers) await this.outbox.enqueue(tx, { peer, stream, type: NoticeMessage.StatusChanged, body, correlationId: change.correlationId });
    const local = await this.receiver.apply(tx, this.self, { ...change, licenceType: change.typeCode, reason });
    afterCommit(tx, () => {
      if (peers.length > 0) this.dispatcher.nudge();
      for (const peer of peers) {
        this.audit.record({ event: 'licence.notice.sent', actor: 'system', subject: change.licenceId, outcome: 'OK', reason: change.status, details: { peer, version: change.version } });
      }
    });
    return { peers, localWebhooks: local.webhooks };
  }
}
