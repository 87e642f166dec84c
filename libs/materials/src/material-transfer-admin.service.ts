import { Injectable, Optional } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock, DomainException } from '@tongban/common';
import { MaterialPusher } from './material-pusher.service';
import { MaterialTransferEntity, TransferStatus } from './material-transfer.entity';

/** Admin view of one material transfer. */
export interface TransferView {
  materialId: string;
  peer: string;
  status: TransferStatus;
  attempts: number;
  createdAt: string;
  nextAttemptAt: string;
  deliveredAt: string | null;
  lastError: string | null;
  /** The peer's signed response envelope `{jws, payload}` (payload = base64 MaterialReceiptPayload). */
  receipt: { jws: string; payload: string } | null;
}

/** What admins see of material transfers. */
@Injectable()
export class MaterialTransferAdmin {
  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    @Optional() private readonly pusher?: MaterialPusher,
  ) {}

  /**
   * Puts a DEAD transfer back in the queue, to be pushed now: attempts restart (short backoff
   * first) and the dead-letter age counts again from now. Only DEAD transfers.
   */
  async requeue(materialId: string, peer: string): Promise<TransferView> {
    const repo = this.ds.getRepository(MaterialTransferEntity);
    const row = await repo.findOneBy({ materialId, peer });
    if (!row) throw new DomainException('NOT_FOUND', `no transfer of material ${materialId} to ${peer}`);
    if (row.status !== 'DEAD') throw new DomainException('CONFLICT', `the transfer is ${row.status}; only DEAD transfers can be re-queued`);
    const now = this.clock.now();
    // Conditional on DEAD: a concurrent requeue (another replica) changes nothing twice.
    await repo.update({ materialId, peer, status: 'DEAD' }, { status: 'PENDING', attempts: 0, createdAt: now, nextAttemptAt: now, lastError: null, leaseOwner: null, leaseUntil: null });
    this.pusher?.nudge();
    return (await this.list(undefined, 1000, { materialId, peer }))[0];
  }

  /** Transfers by status (default: all), oldest first. */
  async list(status?: string, limit = 100, only?: { materialId: string; peer: string }): Promise<TransferView[]> {
    if (status && !['PENDING', 'DELIVERED', 'DEAD'].includes(status)) {
      throw new DomainException('VALIDATION_FAILED', 'status must be PENDING, DELIVERED or DEAD', { field: 'status', rule: 'ONE_OF' });
    }
    const rows = await this.ds.getRepository(MaterialTransferEntity).find({
      where: { ...(status ? { status: status as TransferStatus } : {}), ...(only ?? {}) },
      order: { createdAt: 'ASC' },
      take: Math.min(Math.max(Number.isFinite(limit) ? limit : 100, 1), 1000),
    });
    return rows.map((r) => ({
      materialId: r.materialId,
      peer: r.peer,
      status: r.status,
      attempts: r.attempts,
      createdAt: r.createdAt.toISOString(),
      nextAttemptAt: r.nextAttemptAt.toISOString(),
      deliveredAt: r.deliveredAt?.toISOString() ?? null,
      lastError: r.lastError,
      receipt: r.receipt ? (JSON.parse(r.receipt) as { jws: string; payload: string }) : null,
    }));
  }
}
