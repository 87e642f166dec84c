import { Injectable } from '@nestjs/common';
import { RefusalException } from '@tongban/federation';
import { STATUS_LIST_ID, StatusListPublisher } from '@tongban/licences';
import { TrustStore } from '@tongban/trust';

/**
 * The issuer's side of GetStatusList (docs/protocol-status.md §3): a peer gets a list only of a
 * licence type its policy lets it verify (LICENCE_TYPE_NOT_ALLOWED otherwise), and only a list this
 * gateway publishes (UNKNOWN_STATUS_LIST).
 */
@Injectable()
export class StatusListServer {
  constructor(
    private readonly publisher: StatusListPublisher,
    private readonly trust: TrustStore,
  ) {}

  /** The signed list `listId` for `requester` (a verified sender). */
  async answer(requester: string, messageId: string, listId: string): Promise<{ listId: string; version: number; statusListJws: string }> {
    if (!STATUS_LIST_ID.test(listId))
      throw new RefusalException('MALFORMED_PAYLOAD', 'list_id must be "<21-character licence type code>-<n>" (n: 0 to 999999, no leading zeros)', requester, messageId, true);
    const typeCode = listId.slice(0, 21);
    const peer = this.trust.peer(requester);
    if (!peer || !this.trust.allowsLicenceType(peer, typeCode))
      throw new RefusalException('LICENCE_TYPE_NOT_ALLOWED', `${requester} may not verify licence type ${typeCode}`, requester, messageId, true);
    const list = await this.publisher.serve(listId);
    if (!list) throw new RefusalException('UNKNOWN_STATUS_LIST', `no status list ${listId} here`, requester, messageId, true);
    return { listId, version: list.version, statusListJws: list.jws };
  }
}
