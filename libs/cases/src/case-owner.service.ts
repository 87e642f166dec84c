import { Injectable } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { CatalogueStore } from '@tongban/catalogue';
import { DomainException, ParticipantDirectory, ValidationException, beijingDate, parseOrThrow } from '@tongban/common';
import { CaseClosed, CaseEventNote, CaseOpened, StepAssigned, StepStatusChanged } from '@tongban/proto';
import { TrustStore } from '@tongban/trust';
import { CaseEntity } from './case.entity';
import { CaseItem } from './case-item';
import { CaseMessage } from './case-messages';
import { CaseStepEntity, OPEN_STEP, StepStatus, UNWORKED_STEP } from './case-step.entity';
import { CaseTransactions } from './case-transactions';
import { CaseUnitOfWork, ts } from './case-unit-of-work';
import { cancelSchema, openCaseSchema } from './case-requests.schema';

/** A step result reported by the performing province (or by our own department). */
export interface StepReport {
  stepIndex: number;
  outcome: 'ACCEPTED' | 'COMPLETED' | 'REFUSED' | 'MATERIALS_REQUESTED';
  outputs?: Record<string, string>;
  reason?: string;
  actor: string;
  from: string;
}

/**
 * The accepting gateway's side of a case: it owns the case, opens it, sends each step to the
 * province of the role that performs it, applies results in workflow order and closes it.
 */
@Injectable()
export class CaseOwner {
  constructor(
    private readonly txs: CaseTransactions,
    private readonly catalogue: CatalogueStore,
    private readonly participants: ParticipantDirectory,
    private readonly trust: TrustStore,
  ) {}

  /** Opens a case at this (accepting) gateway; 400 naming the field on bad input. `correlationId`: the request's, stored with the messages it sends. */
  async open(body: unknown, actor: string, correlationId?: string): Promise<{ caseId: string; collaborationId: string }> {
    const req = parseOrThrow(openCaseSchema, body);
    const cat = this.catalogue.catalogue();
    const item = cat.item(req.itemCode);
    if (!item) throw new ValidationException('itemCode', 'UNKNOWN_ITEM', `itemCode: ${req.itemCode} is not in catalogue ${cat.version}`);
    for (const role of item.roles) {
      if (!req.participants[role]) throw new ValidationException(`participants.${role}`, 'REQUIRED', `participants.${role}: item ${item.code} needs a province for role ${role}`);
    }
    for (const [role, code] of Object.entries(req.participants)) {
      if (!item.roles.includes(role)) throw new ValidationException(`participants.${role}`, 'UNKNOWN_ROLE', `participants.${role}: item ${item.code} has roles ${item.roles.join(', ')}`);
      if (!this.participants.has(code)) throw new ValidationException(`participants.${role}`, 'UNKNOWN_PARTICIPANT', `participants.${role}: ${code} is not a participant`);
      if (code === this.txs.self) continue;
      const peer = this.trust.peer(code);
      if (!peer || peer.status !== 'ACTIVE') throw new ValidationException(`participants.${role}`, 'PEER_NOT_TRUSTED', `participants.${role}: ${code} is not an active peer in the trust store`);
      if (!this.trust.allowsItem(peer, req.itemCode))
        throw new ValidationException(`participants.${role}`, 'ITEM_NOT_ALLOWED', `participants.${role}: our policy does not route ${req.itemCode} to ${code}`);
      if (!this.trust.allowsRole(peer, role)) throw new ValidationException(`participants.${role}`, 'ROLE_NOT_ALLOWED', `participants.${role}: our policy does not let ${code} take the role ${role}`);
    }
    if (req.participants[item.acceptingRole] !== this.txs.self) {
      throw new ValidationException(`participants.${item.acceptingRole}`, 'ACCEPTING_PROVINCE', `participants.${item.acceptingRole}: the accepting role must be this gateway (${this.txs.self})`);
    }
    const declared = new Set(req.materials.map((m) => m.code));
    for (const m of item.materials) {
      if (m.required && !declared.has(m.code)) throw new ValidationException('materials', 'REQUIRED_MATERIAL', `materials: ${m.code} (${m.name}) is required for ${item.code}`);
    }
    req.materials.forEach((m, i) => {
      if (!item.materials.some((x) => x.code === m.code))
        throw new ValidationException(`materials[${i}].code`, 'UNKNOWN_MATERIAL', `materials[${i}].code: ${m.code} is not a material of ${item.code}`);
    });
    const frozen = JSON.parse(JSON.stringify({ ...item, version: cat.version })) as CaseItem;
    return this.txs.run(async (uow) => {
      // The date in a collaboration id is the Beijing calendar date.
      const day = beijingDate(uow.now).replace(/-/g, '');
      const c: CaseEntity = {
        id: randomUUID(),
        collaborationId: `${this.txs.self}-${day}-${randomBytes(5).toString('hex').toUpperCase()}`,
        itemCode: item.code,
        itemVersion: cat.version,
        item: frozen,
        mode: item.modes.includes('PROXY') ? 'PROXY' : item.modes.includes('JOINT') ? 'JOINT' : item.modes[0],
        owner: this.txs.self,
        state: 'OPEN',
        participants: req.participants,
        applicantName: req.applicant.name,
        applicantIdNumber: req.applicant.idNumber.toUpperCase(),
        received: { ...req.receivedAt, at: uow.now.toISOString(), by: actor },
        materials: req.materials.map((m) => ({ ...m, name: item.materials.find((x) => x.code === m.code)?.name })),
        currentStep: 0,
        createdAt: uow.now,
        updatedAt: uow.now,
        closedAt: null,
        closeReason: null,
        refusedStep: null,
      };
      uow.writes.insert(CaseEntity, c as never);
      uow.holds(c);
      const steps: CaseStepEntity[] = frozen.steps.map((s, idx) => ({
        caseId: c.id,
        idx,
        role: s.role,
        province: req.participants[s.role],
        action: s.action,
        name: s.name.slice(0, 100),
        timeLimitDays: s.timeLimitWorkingDays,
        status: 'WAITING',
        assignedAt: null,
        dueAt: null,
        ...UNWORKED_STEP,
      }));
      await uow.event(c, 'CASE_OPENED', actor, null, { itemCode: c.itemCode, itemVersion: c.itemVersion, channel: req.receivedAt.channel, office: req.receivedAt.office });
      // Step 0 is assigned before CaseOpened is built, so CaseOpened already carries its status,
      // and before the steps are written, so they are inserted assigned (no UPDATE after).
      await this.assign(uow, c, steps, 0, actor, true);
      uow.writes.insert(CaseStepEntity, steps);
      for (const peer of new Set(Object.values(c.participants))) {
        if (peer === this.txs.self) continue;
        const needsId = frozen.steps.some((s) => s.needsApplicantId && req.participants[s.role] === peer);
        const opened = CaseOpened.encode({
          collaborationId: c.collaborationId,
          itemCode: c.itemCode,
          itemVersion: c.itemVersion,
          mode: c.mode,
          acceptingProvince: c.owner,
          participants: Object.entries(c.participants).map(([role, province]) => ({ role, province })),
          applicantName: c.applicantName,
          applicantIdNumber: needsId ? (c.applicantIdNumber ?? '') : '',
          steps: steps.map(stepSummary),
          openedAt: ts(uow.now),
          receivedJson: JSON.stringify({ case: c.item, received: c.received, materials: c.materials }),
        }).finish();
        await uow.send(peer, c, CaseMessage.Opened, opened);
      }
      if (steps[0].province !== this.txs.self) await this.sendAssignment(uow, c, steps[0]);
      return { caseId: c.id, collaborationId: c.collaborationId };
    }, correlationId);
  }

  /** Applies a step report in the owner's transaction to the case loaded in it (local department or a peer's StepOutcome). */
  async apply(uow: CaseUnitOfWork, { c, steps }: { c: CaseEntity; steps: CaseStepEntity[] }, r: StepReport): Promise<void> {
    const step = steps[r.stepIndex];
    if (c.state !== 'OPEN') throw new DomainException('CONFLICT', `case ${c.collaborationId} is ${c.state}`);
    if (!step || step.idx !== c.currentStep) throw new DomainException('CONFLICT', `step ${r.stepIndex} is not the current step of ${c.collaborationId}`);
    if (step.province !== r.from) throw new DomainException('FORBIDDEN', `step ${r.stepIndex} is performed by ${step.province}, not ${r.from}`);
    const def = c.item.steps[step.idx];
    checkTransition(step, r.outcome, def);
    const status: StepStatus = r.outcome;
    const patch: Partial<CaseStepEntity> = { status, actor: r.actor.slice(0, 100), reason: r.reason ?? null };
    if (r.outcome === 'ACCEPTED') patch.acceptedAt = uow.now;
    if (r.outcome === 'COMPLETED' || r.outcome === 'REFUSED') patch.finishedAt = uow.now;
    if (r.outcome === 'COMPLETED') patch.outputs = checkOutputs(def.outputs, r.outputs ?? {});
    uow.writes.update(CaseStepEntity, { caseId: c.id, idx: step.idx }, patch);
    Object.assign(step, patch);
    await uow.event(c, `STEP_${r.outcome}`, r.actor, step.idx, { ...(r.reason ? { reason: r.reason } : {}), ...(patch.outputs ? { outputs: patch.outputs } : {}) }, r.from);
    // The performer already holds this status; the next step's performer learns a completion from
    // its StepAssigned (steps run in order); everyone else learns it from this message.
    const next = r.outcome === 'COMPLETED' ? steps[step.idx + 1]?.province : undefined;
    const changed = StepStatusChanged.encode({ collaborationId: c.collaborationId, stepIndex: step.idx, status, actor: r.actor, at: ts(uow.now), reason: r.reason ?? '' }).finish();
    for (const peer of new Set(Object.values(c.participants))) if (peer !== step.province && peer !== next) await uow.send(peer, c, CaseMessage.StepStatusChanged, changed);
    if (r.outcome === 'REFUSED') return this.close(uow, c, steps, 'REFUSED', r.reason ?? 'refused', r.actor, step.idx);
    if (r.outcome !== 'COMPLETED') return this.touch(uow, c);
    if (step.idx + 1 < steps.length) return this.assign(uow, c, steps, step.idx + 1, r.actor);
    return this.close(uow, c, steps, 'COMPLETED', 'all steps completed', r.actor);
  }

  /** Cancels an open case (accepting office only), everywhere. */
  async cancel(ref: string, body: unknown, actor: string, correlationId?: string): Promise<void> {
    const { reason } = parseOrThrow(cancelSchema, body);
    await this.txs.run(async (uow) => {
      const { c, steps } = await this.txs.load(uow, ref, 'reference');
      if (c.owner !== this.txs.self) throw new DomainException('FORBIDDEN', `only the accepting gateway ${c.owner} can cancel ${c.collaborationId}`);
      if (c.state !== 'OPEN') throw new DomainException('CONFLICT', `case ${c.collaborationId} is ${c.state}`);
      await this.close(uow, c, steps, 'CANCELLED', reason, actor);
    }, correlationId);
  }

  /** Records a case note at the owner and tells every other participant (except `from`). */
  async note(uow: CaseUnitOfWork, c: CaseEntity, type: string, details: Record<string, unknown>, actor: string, from: string): Promise<void> {
    await uow.event(c, type, actor, null, details, from);
    await uow.broadcast(
      c,
      CaseMessage.Note,
      CaseEventNote.encode({ collaborationId: c.collaborationId, type, detailsJson: JSON.stringify({ ...details, province: from }), actor, at: ts(uow.now) }).finish(),
      from,
    );
    await this.touch(uow, c);
  }

  /**
   * Assigns step `idx`. `opening`: the case is being opened: its steps are not written yet (the
   * caller inserts them as assigned here), its row was just inserted, and CaseOpened announces it.
   */
  private async assign(uow: CaseUnitOfWork, c: CaseEntity, steps: CaseStepEntity[], idx: number, actor: string, opening = false): Promise<void> {
    const step = steps[idx];
    const def = c.item.steps[idx];
    const calendar = this.catalogue.calendar();
    const due = calendar.addWorkingDays(uow.now, def.timeLimitWorkingDays);
    const dueAtProvisional = !calendar.coversSpan(uow.now, due);
    const inputs: Record<string, string> = {};
    for (const name of def.inputs) for (const s of steps.slice(0, idx)) if (s.outputs?.[name] !== undefined) inputs[name] = s.outputs[name];
    const patch: Partial<CaseStepEntity> = { status: 'ASSIGNED', assignedAt: uow.now, dueAt: due, dueAtProvisional, inputs };
    if (!opening) uow.writes.update(CaseStepEntity, { caseId: c.id, idx }, patch);
    Object.assign(step, patch);
    c.currentStep = idx;
    await uow.event(c, 'STEP_ASSIGNED', actor, idx, { role: step.role, province: step.province, action: step.action, dueAt: due.toISOString(), ...(dueAtProvisional ? { dueAtProvisional } : {}) });
    if (opening) return;
    await this.sendAssignment(uow, c, step);
    const changed = StepStatusChanged.encode({ collaborationId: c.collaborationId, stepIndex: idx, status: 'ASSIGNED', actor, at: ts(uow.now), reason: '' }).finish();
    await uow.broadcast(c, CaseMessage.StepStatusChanged, changed, step.province);
    await this.touch(uow, c);
  }

  private async sendAssignment(uow: CaseUnitOfWork, c: CaseEntity, step: CaseStepEntity): Promise<void> {
    const assigned = StepAssigned.encode({
      collaborationId: c.collaborationId,
      stepIndex: step.idx,
      role: step.role,
      action: step.action,
      dueAt: ts(step.dueAt),
      dueAtProvisional: step.dueAtProvisional,
      inputsJson: JSON.stringify(step.inputs ?? {}),
      materialIds: [],
    }).finish();
    await uow.send(step.province, c, CaseMessage.StepAssigned, assigned);
  }

  private async close(uow: CaseUnitOfWork, c: CaseEntity, steps: CaseStepEntity[], state: 'COMPLETED' | 'REFUSED' | 'CANCELLED', reason: string, actor: string, refusedStep?: number): Promise<void> {
    for (const s of steps) {
      if (s.status === 'WAITING' || OPEN_STEP.includes(s.status)) {
        uow.writes.update(CaseStepEntity, { caseId: c.id, idx: s.idx }, { status: 'CANCELLED' });
        s.status = 'CANCELLED';
      }
    }
    c.state = state;
    c.closedAt = uow.now;
    c.closeReason = reason.slice(0, 500);
    c.refusedStep = refusedStep ?? null;
    uow.writes.update(CaseEntity, { id: c.id }, { state, closedAt: uow.now, closeReason: c.closeReason, refusedStep: c.refusedStep, updatedAt: uow.now, currentStep: c.currentStep });
    await uow.event(c, `CASE_${state}`, actor, refusedStep ?? null, { reason });
    const final = steps.map(stepSummary);
    await uow.broadcast(
      c,
      CaseMessage.Closed,
      CaseClosed.encode({ collaborationId: c.collaborationId, state, reason, refusedStepIndex: refusedStep ?? 0, at: ts(uow.now), actor, steps: final }).finish(),
    );
  }

  private async touch(uow: CaseUnitOfWork, c: CaseEntity): Promise<void> {
    uow.writes.update(CaseEntity, { id: c.id }, { updatedAt: uow.now, currentStep: c.currentStep });
  }
}

const ALLOWED_FROM: Record<StepReport['outcome'], StepStatus[]> = {
  ACCEPTED: ['ASSIGNED', 'MATERIALS_REQUESTED'],
  MATERIALS_REQUESTED: ['ASSIGNED', 'ACCEPTED'],
  COMPLETED: ['ASSIGNED', 'ACCEPTED'],
  REFUSED: ['ASSIGNED', 'ACCEPTED', 'MATERIALS_REQUESTED'],
};

/** Whether a step in `status` may take `outcome` (409 otherwise); the owner and performers share it. */
export function checkTransition(step: CaseStepEntity, outcome: StepReport['outcome'], def: CaseItem['steps'][number]): void {
  if (!ALLOWED_FROM[outcome].includes(step.status)) throw new DomainException('CONFLICT', `step ${step.idx} is ${step.status}; cannot become ${outcome}`);
  if (outcome === 'REFUSED' && !def.mayRefuse) throw new DomainException('CONFLICT', `step ${step.action} may not refuse`);
}

/** Validates step outputs against the item's definition; 400 naming `outputs.<name>`. */
export function checkOutputs(defs: CaseItem['steps'][number]['outputs'], given: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(given)) {
    if (!defs.some((d) => d.name === name))
      throw new ValidationException(`outputs.${name}`, 'UNKNOWN_OUTPUT', `outputs.${name}: this step produces ${defs.map((d) => d.name).join(', ') || 'no outputs'}`);
  }
  for (const d of defs) {
    const v = given[d.name];
    if (v === undefined || v === '') {
      if (d.required) throw new ValidationException(`outputs.${d.name}`, 'REQUIRED', `outputs.${d.name}: required`);
      continue;
    }
    const ok =
      d.kind === 'FILE_HASH'
        ? /^[0-9a-f]{64}$/.test(v)
        : d.kind === 'DATE'
          ? /^\d{4}-\d{2}-\d{2}$/.test(v)
          : d.kind === 'DOCUMENT_NUMBER'
            ? /^[\p{L}\p{N}\-/()（）第号]{1,64}$/u.test(v)
            : v.length <= 500;
    if (!ok) throw new ValidationException(`outputs.${d.name}`, d.kind, `outputs.${d.name}: not a valid ${d.kind}`);
    out[d.name] = v;
  }
  return out;
}

/** A step as CaseOpened and CaseClosed carry it (StepSummary in proto/). */
function stepSummary(s: CaseStepEntity) {
  return {
    index: s.idx,
    role: s.role,
    province: s.province,
    action: s.action,
    timeLimitWorkingDays: s.timeLimitDays,
    status: s.status,
    dueAt: ts(s.dueAt),
    dueAtProvisional: s.dueAtProvisional,
  };
}
