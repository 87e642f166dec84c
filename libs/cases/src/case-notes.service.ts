import { Injectable } from '@nestjs/common';
import { DomainException, parseOrThrow } from '@tongban/common';
import { CaseEventNote } from '@tongban/proto';
import { CaseMessage } from './case-messages';
import { CaseOwner } from './case-owner.service';
import { CaseTransactions } from './case-transactions';
import { ts } from './case-unit-of-work';
import { postalSchema, resultDeliverySchema } from './case-requests.schema';

/**
 * 异地代收代办 bookkeeping any participant records — postal dispatch and receipt of paper materials
 * or of the result (carrier, tracking number), and electronic result delivery — shared with all.
 */
@Injectable()
export class CaseNotes {
  constructor(
    private readonly txs: CaseTransactions,
    private readonly owner: CaseOwner,
  ) {}

  /** Records a postal event (`POSTAL_<ITEM>_<EVENT>`). */
  postal(ref: string, body: unknown, actor: string, correlationId?: string): Promise<void> {
    const p = parseOrThrow(postalSchema, body);
    return this.record(ref, `POSTAL_${p.item}_${p.event}`, { carrier: p.carrier, trackingNumber: p.trackingNumber }, actor, correlationId);
  }

  /** Records that the result was delivered (electronically or at a window). */
  resultDelivered(ref: string, body: unknown, actor: string, correlationId?: string): Promise<void> {
    const r = parseOrThrow(resultDeliverySchema, body);
    return this.record(ref, 'RESULT_DELIVERED', { channel: r.channel, reference: r.reference }, actor, correlationId);
  }

  private record(ref: string, type: string, details: Record<string, unknown>, actor: string, correlationId: string | undefined): Promise<void> {
    return this.txs.run(async (uow) => {
      const { c } = await this.txs.load(uow, ref, 'reference');
      if (c.state === 'CANCELLED') throw new DomainException('CONFLICT', `case ${c.collaborationId} is CANCELLED`);
      if (c.owner === this.txs.self) return this.owner.note(uow, c, type, details, actor, this.txs.self);
      await uow.event(c, type, actor, null, details);
      await uow.send(c.owner, c, CaseMessage.Note, CaseEventNote.encode({ collaborationId: c.collaborationId, type, detailsJson: JSON.stringify(details), actor, at: ts(uow.now) }).finish());
    }, correlationId);
  }
}
