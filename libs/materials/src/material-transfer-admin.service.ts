import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DomainException } from '@tongban/common';
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
  constructor(private readonly ds: DataSource) {}

  /** Transfers by status (default: all), oldest first. */
  async list(status?: string, limit = 100): Promise<TransferView[]> {
    if (status && !['PENDING', 'DELIVERED', 'DEAD'].includes(status)) {
      throw new DomainException('VALIDATION_FAILED', 'status must be PENDING, DELIVERED or DEAD', { field: 'status', rule: 'ONE_OF' });
    }
    const rows = await this.ds.getRepository(MaterialTransferEntity).find({
      where: status ? { status: status as TransferStatus } : {},
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
      receipt: r.receipt ? JSON.parse(r.receipt) : null,
    }));
  }
}
