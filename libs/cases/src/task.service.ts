import { Injectable } from '@nestjs/common';
import { DomainException, parseOrThrow } from '@tongban/common';
import { AuditLog } from '@tongban/audit';
import { StepOutcome } from '@tongban/proto';
import { CaseMessage } from './case-messages';
import { CaseOwner, StepReport, checkOutputs, checkTransition } from './case-owner.service';
import { CaseStepEntity } from './case-step.entity';
import { CaseTransactions } from './case-transactions';
import { ts } from './case-unit-of-work';
import { acceptSchema, completeSchema, reasonSchema } from './case-requests.schema';

/** What a department can do with a task. */
export type TaskAction = 'accept' | 'complete' | 'refuse' | 'request-materials';

const OUTCOME: Record<TaskAction, StepReport['outcome']> = {
  accept: 'ACCEPTED',
  complete: 'COMPLETED',
  refuse: 'REFUSED',
  'request-materials': 'MATERIALS_REQUESTED',
};

/** Splits a task id `<collaborationId>~<stepIndex>`. */
export function parseTaskId(id: string): { collaborationId: string; stepIndex: number } {
  const m = /^([0-9]{6}-[0-9]{8}-[0-9A-F]{10})~(\d{1,3})$/.exec(id);
  if (!m) throw new DomainException('NOT_FOUND', `no task ${id.slice(0, 80)}`);
  return { collaborationId: m[1], stepIndex: Number(m[2]) };
}

/**
 * A department's actions on the tasks its province performs. At the owner they apply directly;
 * at a participant they update the local replica and travel to the owner as a StepOutcome.
 */
@Injectable()
export class TaskService {
  constructor(
    private readonly txs: CaseTransactions,
    private readonly owner: CaseOwner,
    private readonly audit: AuditLog,
  ) {}

  /** Performs `action` on task `taskId` for `actor`; 400/403/404/409 on bad requests. `correlationId`: the request's, stored with the message it sends. */
  async act(taskId: string, action: TaskAction, body: unknown, actor: string, correlationId?: string): Promise<void> {
    const { collaborationId, stepIndex } = parseTaskId(taskId);
    const input =
      action === 'complete'
        ? parseOrThrow(completeSchema, body ?? {})
        : action === 'accept'
          ? { ...parseOrThrow(acceptSchema, body ?? {}), outputs: undefined, reason: undefined }
          : { ...parseOrThrow(reasonSchema, body ?? {}), outputs: undefined };
    const outcome = OUTCOME[action];
    const report: StepReport = { stepIndex, outcome, outputs: 'outputs' in input ? input.outputs : undefined, reason: 'reason' in input ? input.reason : undefined, actor, from: this.txs.self };
    await this.txs.run(async (uow) => {
      const { c, steps } = await this.txs.load(uow, collaborationId, 'reference');
      const step = steps[stepIndex];
      if (!step || step.province !== this.txs.self) throw new DomainException('NOT_FOUND', `no task ${taskId} for ${this.txs.self}`);
      if (c.owner === this.txs.self) return this.owner.apply(uow, { c, steps }, report);
      if (c.state !== 'OPEN') throw new DomainException('CONFLICT', `case ${c.collaborationId} is ${c.state}`);
      const def = c.item.steps[stepIndex];
      checkTransition(step, outcome, def);
      const outputs = outcome === 'COMPLETED' ? checkOutputs(def.outputs, report.outputs ?? {}) : undefined;
      const patch: Partial<CaseStepEntity> = { status: outcome, actor: actor.slice(0, 100), reason: report.reason ?? null };
      if (outcome === 'ACCEPTED') patch.acceptedAt = uow.now;
      if (outcome === 'COMPLETED' || outcome === 'REFUSED') patch.finishedAt = uow.now;
      if (outputs) patch.outputs = outputs;
      uow.writes.update(CaseStepEntity, { caseId: c.id, idx: stepIndex }, patch);
      await uow.event(c, `STEP_${outcome}`, actor, stepIndex, { ...(report.reason ? { reason: report.reason } : {}), ...(outputs ? { outputs } : {}) });
      const msg = StepOutcome.encode({
        collaborationId: c.collaborationId,
        stepIndex,
        outcome,
        outputsJson: JSON.stringify(outputs ?? {}),
        reason: report.reason ?? '',
        actor,
        at: ts(uow.now),
      }).finish();
      await uow.send(c.owner, c, CaseMessage.StepOutcome, msg);
    }, correlationId);
  }

  /** The applicant's full ID number for a task whose step needs it; every disclosure is audited. */
  async applicant(taskId: string, actor: string): Promise<{ name: string; idNumber: string }> {
    const { collaborationId, stepIndex } = parseTaskId(taskId);
    const applicant = await this.txs.run(async (uow) => {
      const { c, steps } = await this.txs.load(uow, collaborationId, 'reference');
      const step = steps[stepIndex];
      if (!step || step.province !== this.txs.self) throw new DomainException('NOT_FOUND', `no task ${taskId} for ${this.txs.self}`);
      if (!c.item.steps[stepIndex]?.needsApplicantId || !c.applicantIdNumber) throw new DomainException('FORBIDDEN', `step ${step.action} does not need the applicant's ID number`);
      return { name: c.applicantName, idNumber: c.applicantIdNumber };
    });
    // Written (in its own transaction, on the audit chain) before anything is disclosed.
    await this.audit.recordNow({ event: 'case.applicant.disclosed', actor, subject: taskId, outcome: 'OK' });
    return applicant;
  }
}
