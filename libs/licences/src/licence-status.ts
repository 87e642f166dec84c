import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { z } from 'zod';
import { AuditLog } from '@tongban/audit';
import { Clock, DomainException, parseOrThrow } from '@tongban/common';
import { checkLicenceId, parseLicenceId } from '@tongban/identifiers';
import { lockForTransaction, runInTransaction } from '@tongban/persistence';
import { LicenceStatusEntity } from './licence-status.entity';
import { LicenceEntity } from './licence.entity';

export type LicenceStatusValue = 'VALID' | 'SUSPENDED' | 'REVOKED';
export const LICENCE_STATUS_VALUES = ['VALID', 'SUSPENDED', 'REVOKED'] as const;

/** One recorded status change, as listeners and notices see it. */
export interface LicenceStatusChange {
  licenceId: string;
  typeCode: string;
  status: LicenceStatusValue;
  previous: LicenceStatusValue;
  /** Monotonic per licence, 1 on the first change. */
  version: number;
  changedAt: Date;
  reason: string;
  source: 'registry' | 'library';
  /** Admin client id, 'cli', or 'library-feed'. */
  actor: string;
  /** The correlation id of the request that made the change, if any: stored with the notices sent about it. */
  correlationId?: string;
}

/** Called inside the transaction that records the change: write your rows with `em` (outbox etc.). */
export interface LicenceStatusListener {
  onLicenceStatusChange(change: LicenceStatusChange, em: EntityManager): Promise<void>;
}

/** What `change` takes. */
export interface LicenceStatusChangeInput {
  licenceId: string;
  status: LicenceStatusValue;
  reason: string;
  actor: string;
  source?: 'registry' | 'library';
  changedAt?: Date;
  /** The correlation id of the request that asks for the change (passed on to listeners). */
  correlationId?: string;
}

const inputSchema = z
  .object({
    licenceId: z.string().superRefine((v, ctx) => {
      const r = checkLicenceId(v);
      if (!r.ok) ctx.addIssue({ code: 'custom', message: r.message, params: { rule: r.rule } });
    }),
    status: z.enum(LICENCE_STATUS_VALUES),
    reason: z.string().trim().min(1, 'must not be empty').max(200),
    actor: z.string().min(1).max(64),
    source: z.enum(['registry', 'library']).default('registry'),
    changedAt: z.date().optional(),
    correlationId: z.string().max(64).optional(),
  })
  .strict();

// Serialises changes of one licence across replicas (PostgreSQL; SQLite has one writer anyway).
const STATUS_LOCK = 7_415_840;

/**
 * The one path by which a licence's status changes (issue 12): admin API, CLI (through the admin
 * API) and the licence library's change feed all come here. A change is recorded in
 * `licence_status` with version+1, mirrored onto the registry row, audited, and handed to every
 * registered listener (status lists, change notices) in the same transaction: either all of it is
 * stored or none. REVOKED is final.
 */
@Injectable()
export class LicenceStatusService {
  private readonly listeners: LicenceStatusListener[] = [];

  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
  ) {}

  /** Adds a listener (call from onModuleInit). */
  register(listener: LicenceStatusListener): void {
    this.listeners.push(listener);
  }

  /**
   * Records a change; null when the status is already `status`. Throws VALIDATION_FAILED (bad
   * input), NOT_FOUND (a registry licence that is not in the registry) or CONFLICT with rule
   * REVOKED_IS_FINAL. Refusals of a well-formed request are audited too.
   */
  async change(input: LicenceStatusChangeInput): Promise<LicenceStatusChange | null> {
    const req = parseOrThrow(inputSchema, input);
    try {
      return await runInTransaction(this.ds, (tx) => this.changeIn(tx, req));
    } catch (e) {
      if (e instanceof DomainException && e.code !== 'VALIDATION_FAILED' && e.code !== 'UNAVAILABLE') {
        await this.audit.recordNow({ ...this.auditBase(req), outcome: 'REFUSED', reason: e.details.rule ?? e.code });
      }
      throw e;
    }
  }

  /** Current status, version and time of change of a licence; null if it never changed (VALID, version 0). */
  async current(licenceId: string): Promise<{ status: LicenceStatusValue; version: number; changedAt: Date } | null> {
    const row = await this.ds.getRepository(LicenceStatusEntity).findOneBy({ licenceId });
    return row ? { status: row.status, version: row.version, changedAt: row.changedAt } : null;
  }

  private async changeIn(tx: EntityManager, req: z.infer<typeof inputSchema>): Promise<LicenceStatusChange | null> {
    await lockForTransaction(tx, STATUS_LOCK, req.licenceId);
    const registry = await tx.getRepository(LicenceEntity).findOneBy({ licenceId: req.licenceId });
    if (req.source === 'registry' && !registry) {
      throw new DomainException('NOT_FOUND', `licence ${req.licenceId} is not in this gateway's registry`, { field: 'licenceId', rule: 'UNKNOWN_LICENCE' });
    }
    const statusRepo = tx.getRepository(LicenceStatusEntity);
    const current = await statusRepo.findOneBy({ licenceId: req.licenceId });
    const previous: LicenceStatusValue = current?.status ?? registry?.status ?? 'VALID';
    if (previous === req.status) return null;
    if (previous === 'REVOKED') {
      throw new DomainException('CONFLICT', `licence ${req.licenceId} is REVOKED, which is final: it cannot become ${req.status}`, { field: 'status', rule: 'REVOKED_IS_FINAL' });
    }
    const change: LicenceStatusChange = {
      licenceId: req.licenceId,
      typeCode: registry?.typeCode ?? parseLicenceId(req.licenceId).typeCode,
      status: req.status,
      previous,
      version: (current?.version ?? 0) + 1,
      changedAt: req.changedAt ?? this.clock.now(),
      reason: req.reason,
      source: req.source,
      actor: req.actor,
      correlationId: req.correlationId,
    };
    const { previous: _p, correlationId: _c, ...row } = change;
    await statusRepo.save(statusRepo.create(row));
    if (registry) await tx.getRepository(LicenceEntity).update({ licenceId: req.licenceId }, { status: req.status, updatedAt: change.changedAt });
    await this.audit.recordIn(tx, {
      ...this.auditBase(req),
      outcome: 'OK',
      reason: req.reason.slice(0, 64),
      details: { status: change.status, previous, version: change.version, source: change.source },
    });
    for (const l of this.listeners) await l.onLicenceStatusChange(change, tx);
    return change;
  }

  private auditBase(req: z.infer<typeof inputSchema>) {
    return { event: 'licence.status_changed' as const, actor: req.actor, subject: req.licenceId };
  }
}
