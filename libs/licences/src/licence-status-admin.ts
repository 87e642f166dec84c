import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { DomainException, parseOrThrow } from '@tongban/common';
import { checkLicenceId } from '@tongban/identifiers';
import { LicenceLookup } from './licence-lookup';
import { LicenceStatusService, LicenceStatusValue } from './licence-status';

/** The admin actions and the status each one sets. */
export const LICENCE_STATUS_ACTIONS = { suspend: 'SUSPENDED', reinstate: 'VALID', revoke: 'REVOKED' } as const satisfies Record<string, LicenceStatusValue>;
export type LicenceStatusAction = keyof typeof LICENCE_STATUS_ACTIONS;

/** What the admin API answers: the licence's status now; `changed` false when it already was. */
export interface LicenceStatusView {
  licenceId: string;
  status: LicenceStatusValue;
  previous?: LicenceStatusValue;
  version: number;
  changedAt: string | null;
  changed: boolean;
}

const bodySchema = z.object({ reason: z.string().trim().min(1, 'must not be empty').max(200) }).strict();

/** The admin API's and CLI's way to suspend, reinstate and revoke a licence of the imported registry. */
@Injectable()
export class LicenceStatusAdmin {
  constructor(
    private readonly status: LicenceStatusService,
    private readonly lookup: LicenceLookup,
  ) {}

  /** Applies `action` with the body's reason; the caller is the actor (audited by the service); `correlationId` goes with the notices it sends. */
  async apply(action: LicenceStatusAction, licenceId: string, body: unknown, actor: string, correlationId?: string): Promise<LicenceStatusView> {
    checkId(licenceId);
    const { reason } = parseOrThrow(bodySchema, body);
    const change = await this.status.change({ licenceId, status: LICENCE_STATUS_ACTIONS[action], reason, actor, source: 'registry', correlationId });
    if (change) return { licenceId, status: change.status, previous: change.previous, version: change.version, changedAt: change.changedAt.toISOString(), changed: true };
    return { ...(await this.show(licenceId)), changed: false };
  }

  /** The licence's current status as verifications answer it. */
  async show(licenceId: string): Promise<LicenceStatusView> {
    checkId(licenceId);
    const [record, current] = await Promise.all([this.lookup.findById(licenceId), this.status.current(licenceId)]);
    if (!record) throw new DomainException('NOT_FOUND', `licence ${licenceId} is not in this gateway's registry`, { field: 'licenceId', rule: 'UNKNOWN_LICENCE' });
    return { licenceId, status: record.status, version: current?.version ?? 0, changedAt: current?.changedAt.toISOString() ?? null, changed: false };
  }
}

function checkId(licenceId: string): void {
  const r = checkLicenceId(licenceId);
  if (!r.ok) throw new DomainException('VALIDATION_FAILED', `licenceId: ${r.message}`, { field: 'licenceId', rule: r.rule });
}
