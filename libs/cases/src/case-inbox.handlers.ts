import { Injectable, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DomainException, findUnstorableText } from '@tongban/common';
import { DeliveryRejection, Inbox, IncomingMessage, peerTime } from '@tongban/delivery';
import { CaseClosed, CaseEventNote, CaseOpened, StepAssigned, StepOutcome, StepStatusChanged } from '@tongban/proto';
import { TrustStore } from '@tongban/trust';
import { CaseEntity } from './case.entity';
import { CaseItem } from './case-item';
import { CaseMessage } from './case-messages';
import { CaseOwner } from './case-owner.service';
import { CaseStepEntity, OPEN_STEP, StepStatus, UNWORKED_STEP } from './case-step.entity';
import { CaseTransactions } from './case-transactions';
import { CaseUnitOfWork } from './case-unit-of-work';

const STEP_STATUSES: StepStatus[] = ['WAITING', 'ASSIGNED', 'ACCEPTED', 'MATERIALS_REQUESTED', 'COMPLETED', 'REFUSED', 'CANCELLED'];

/**
 * Applies case messages from other gateways inside the inbox transaction: replicas follow their
 * owner (opened, assigned, status, closed, notes); the owner applies step outcomes. A message that
 * can never apply (wrong sender, unknown case) is rejected with a signed REJECTED receipt.
 */
@Injectable()
export class CaseInboxHandlers implements OnModuleInit {
  constructor(
    private readonly inbox: Inbox,
    private readonly txs: CaseTransactions,
    private readonly owner: CaseOwner,
    private readonly trust: TrustStore,
  ) {}

  onModuleInit(): void {
    const on = (type: string, fn: (uow: CaseUnitOfWork, m: IncomingMessage) => Promise<void>) =>
      this.inbox.on(type, (tx, m) =>
        this.txs.within(
          tx,
          (uow) =>
            fn(uow, m).catch((e) => {
              // A lost or busy database is no fault of the message: the sender retries (gRPC UNAVAILABLE).
              if (e instanceof DomainException && e.code !== 'UNAVAILABLE') throw new DeliveryRejection(`${e.code}: ${e.message}`);
              throw e;
            }),
          m.correlationId,
        ),
      );
    on(CaseMessage.Opened, (uow, m) => this.opened(uow, m));
    on(CaseMessage.StepAssigned, (uow, m) => this.assigned(uow, m));
    on(CaseMessage.StepStatusChanged, (uow, m) => this.statusChanged(uow, m));
    on(CaseMessage.Closed, (uow, m) => this.closed(uow, m));
    on(CaseMessage.Note, (uow, m) => this.noted(uow, m));
    on(CaseMessage.StepOutcome, (uow, m) => this.outcome(uow, m));
  }

  private async opened(uow: CaseUnitOfWork, m: IncomingMessage): Promise<void> {
    const o = decode(() => CaseOpened.decode(m.body));
    const openedAtGiven = peerTime(o.openedAt, 'opened_at');
    const dueAts = o.steps.map((s, i) => peerTime(s.dueAt, `steps[${i}].due_at`));
    if (o.collaborationId !== m.stream) throw new DeliveryRejection('collaboration id differs from the stream');
    if (o.acceptingProvince !== m.sender || !o.collaborationId.startsWith(`${m.sender}-`)) throw new DeliveryRejection('a case can only be opened by its accepting province');
    if (!o.participants.some((p) => p.province === uow.self)) throw new DeliveryRejection(`${uow.self} takes no part in this case`);
    const peer = this.trust.peer(m.sender);
    if (!peer || !this.trust.allowsItem(peer, o.itemCode)) throw new DeliveryRejection(`ITEM_NOT_ALLOWED: ${m.sender} may not route ${o.itemCode} to ${uow.self}`);
    const refusedRole = o.participants.find((p) => p.province === m.sender && !this.trust.allowsRole(peer, p.role));
    if (refusedRole) throw new DeliveryRejection(`ROLE_NOT_ALLOWED: ${m.sender} may not take the role ${refusedRole.role} in cases with ${uow.self}`);
    // Already opened here (a second CaseOpened of the stream): one indexed read, no entity built.
    const [sql, params] = uow.tx.connection.driver.escapeQueryWithParameters('SELECT 1 AS known FROM cases WHERE collaboration_id = :collaborationId', { collaborationId: o.collaborationId }, {});
    if ((await uow.tx.query<unknown[]>(sql, params)).length > 0) return;
    const snapshot = json(o.receivedJson, 'received_json') as { case?: CaseItem; received?: Record<string, unknown>; materials?: Record<string, unknown>[] };
    if (!snapshot.case) throw new DeliveryRejection('received_json lacks the case item');
    const openedAt = openedAtGiven ?? uow.now;
    const c: CaseEntity = {
      id: randomUUID(),
      collaborationId: o.collaborationId,
      itemCode: o.itemCode,
      itemVersion: o.itemVersion,
      item: snapshot.case,
      mode: o.mode,
      owner: m.sender,
      state: 'OPEN',
      participants: Object.fromEntries(o.participants.map((p) => [p.role, p.province])),
      applicantName: o.applicantName,
      applicantIdNumber: o.applicantIdNumber || null,
      received: snapshot.received ?? {},
      materials: snapshot.materials ?? [],
      currentStep: 0,
      createdAt: openedAt,
      updatedAt: uow.now,
      closedAt: null,
      closeReason: null,
      refusedStep: null,
    };
    uow.writes.insert(CaseEntity, c as never);
    uow.writes.insert(
      CaseStepEntity,
      o.steps.map((s, i) => ({
        caseId: c.id,
        idx: s.index,
        role: s.role,
        province: s.province,
        action: s.action,
        name: (snapshot.case!.steps[s.index]?.name ?? s.action).slice(0, 100),
        timeLimitDays: s.timeLimitWorkingDays,
        status: STEP_STATUSES.includes(s.status as StepStatus) ? (s.status as StepStatus) : 'WAITING',
        assignedAt: s.status === 'ASSIGNED' ? openedAt : null,
        ...UNWORKED_STEP,
        dueAt: dueAts[i],
        dueAtProvisional: s.dueAtProvisional === true,
      })),
    );
    await uow.event(c, 'CASE_OPENED', stringOr(c.received.by, m.sender), null, { itemCode: c.itemCode, itemVersion: c.itemVersion }, m.sender);
  }

  private async assigned(uow: CaseUnitOfWork, m: IncomingMessage): Promise<void> {
    const a = decode(() => StepAssigned.decode(m.body));
    const dueAt = peerTime(a.dueAt, 'due_at');
    const { c, steps } = await this.replica(uow, m, a.collaborationId);
    const step = steps[a.stepIndex];
    if (!step || step.province !== uow.self) throw new DeliveryRejection(`step ${a.stepIndex} is not performed by ${uow.self}`);
    // Steps run in order: an assignment of step n means every earlier step was completed.
    for (const earlier of steps.slice(0, step.idx)) {
      if (earlier.status === 'WAITING' || OPEN_STEP.includes(earlier.status)) {
        uow.writes.update(CaseStepEntity, { caseId: c.id, idx: earlier.idx }, { status: 'COMPLETED', finishedAt: uow.now });
        await uow.event(c, 'STEP_COMPLETED', m.sender, earlier.idx, null, earlier.province);
      }
    }
    const patch: Partial<CaseStepEntity> = {
      status: 'ASSIGNED',
      assignedAt: uow.now,
      dueAt,
      dueAtProvisional: a.dueAtProvisional === true,
      inputs: json(a.inputsJson, 'inputs_json') as Record<string, string>,
    };
    uow.writes.update(CaseStepEntity, { caseId: c.id, idx: step.idx }, patch);
    uow.writes.update(CaseEntity, { id: c.id }, { currentStep: step.idx, updatedAt: uow.now });
    await uow.event(
      c,
      'STEP_ASSIGNED',
      m.sender,
      step.idx,
      { action: step.action, dueAt: patch.dueAt?.toISOString() ?? null, ...(patch.dueAtProvisional ? { dueAtProvisional: true } : {}) },
      m.sender,
    );
  }

  private async statusChanged(uow: CaseUnitOfWork, m: IncomingMessage): Promise<void> {
    const s = decode(() => StepStatusChanged.decode(m.body));
    const given = peerTime(s.at, 'at');
    const { c, steps } = await this.replica(uow, m, s.collaborationId);
    const step = steps[s.stepIndex];
    if (!step || !STEP_STATUSES.includes(s.status as StepStatus)) throw new DeliveryRejection(`bad step ${s.stepIndex} or status ${s.status}`);
    const at = given ?? uow.now;
    const status = s.status as StepStatus;
    const patch: Partial<CaseStepEntity> = { status, actor: s.actor.slice(0, 100) || step.actor, reason: s.reason || step.reason };
    if (status === 'ASSIGNED') patch.assignedAt = at;
    if (status === 'ACCEPTED') patch.acceptedAt = at;
    if (status === 'COMPLETED' || status === 'REFUSED') patch.finishedAt = at;
    uow.writes.update(CaseStepEntity, { caseId: c.id, idx: step.idx }, patch);
    uow.writes.update(CaseEntity, { id: c.id }, { currentStep: Math.max(c.currentStep, status === 'ASSIGNED' ? step.idx : c.currentStep), updatedAt: uow.now });
    if (step.province !== uow.self || status === 'ASSIGNED') await uow.event(c, `STEP_${status}`, s.actor || m.sender, step.idx, s.reason ? { reason: s.reason } : null, step.province);
  }

  private async closed(uow: CaseUnitOfWork, m: IncomingMessage): Promise<void> {
    const k = decode(() => CaseClosed.decode(m.body));
    const closedAt = peerTime(k.at, 'at');
    const { c, steps } = await this.replica(uow, m, k.collaborationId);
    if (!['COMPLETED', 'REFUSED', 'CANCELLED'].includes(k.state)) throw new DeliveryRejection(`bad final state ${k.state}`);
    // The owner's final step statuses win (e.g. a step completed here after the owner cancelled).
    const final = new Map(k.steps.map((s) => [s.index, s.status as StepStatus]));
    for (const s of steps) {
      const status = final.get(s.idx) ?? (s.status === 'WAITING' || OPEN_STEP.includes(s.status) ? 'CANCELLED' : s.status);
      if (STEP_STATUSES.includes(status) && status !== s.status) uow.writes.update(CaseStepEntity, { caseId: c.id, idx: s.idx }, { status });
    }
    const at = closedAt ?? uow.now;
    uow.writes.update(
      CaseEntity,
      { id: c.id },
      { state: k.state as CaseEntity['state'], closedAt: at, closeReason: k.reason.slice(0, 500), refusedStep: k.state === 'REFUSED' ? k.refusedStepIndex : null, updatedAt: uow.now },
    );
    await uow.event(c, `CASE_${k.state}`, k.actor || m.sender, k.state === 'REFUSED' ? k.refusedStepIndex : null, { reason: k.reason }, m.sender);
  }

  private async noted(uow: CaseUnitOfWork, m: IncomingMessage): Promise<void> {
    const n = decode(() => CaseEventNote.decode(m.body));
    const { c } = await this.named(uow, m, n.collaborationId);
    if (!Object.values(c.participants).includes(m.sender)) throw new DeliveryRejection(`${m.sender} takes no part in ${c.collaborationId}`);
    const details = json(n.detailsJson, 'details_json');
    if (!/^[A-Z_]{2,40}$/.test(n.type)) throw new DeliveryRejection('note type must be 2-40 upper-case letters');
    if (c.owner === uow.self) return this.owner.note(uow, c, n.type, details, n.actor, m.sender);
    if (m.sender !== c.owner) throw new DeliveryRejection('notes reach participants through the accepting gateway');
    await uow.event(c, n.type, n.actor, null, details, stringOr(details.province, m.sender).slice(0, 6));
  }

  private async outcome(uow: CaseUnitOfWork, m: IncomingMessage): Promise<void> {
    const o = decode(() => StepOutcome.decode(m.body));
    const loaded = await this.named(uow, m, o.collaborationId);
    const { c } = loaded;
    if (c.owner !== uow.self) throw new DeliveryRejection(`${uow.self} does not own ${o.collaborationId}; outcomes go to ${c.owner}`);
    const outcome = o.outcome as 'ACCEPTED' | 'COMPLETED' | 'REFUSED' | 'MATERIALS_REQUESTED';
    if (!['ACCEPTED', 'COMPLETED', 'REFUSED', 'MATERIALS_REQUESTED'].includes(outcome)) throw new DeliveryRejection(`bad outcome ${o.outcome}`);
    await this.owner.apply(uow, loaded, {
      stepIndex: o.stepIndex,
      outcome,
      outputs: json(o.outputsJson, 'outputs_json') as Record<string, string>,
      reason: o.reason || undefined,
      actor: o.actor || m.sender,
      from: m.sender,
    });
  }

  /** The local replica of a case the sender owns. */
  private async replica(uow: CaseUnitOfWork, m: IncomingMessage, collaborationId: string) {
    const loaded = await this.named(uow, m, collaborationId);
    if (loaded.c.owner !== m.sender) throw new DeliveryRejection(`${m.sender} does not own ${collaborationId}`);
    return loaded;
  }

  /**
   * The case a peer's message names, locked. Every case message travels on its case's stream, so the
   * body's collaboration id must be the stream (the stream's order is the case's order); and a peer
   * names a case by its collaboration id only, never by a local id (docs/protocol-cases.md §2.6).
   */
  private named(uow: CaseUnitOfWork, m: IncomingMessage, collaborationId: string) {
    if (collaborationId !== m.stream) throw new DeliveryRejection('collaboration id differs from the stream');
    return this.txs.load(uow, collaborationId, 'collaborationId');
  }
}

/**
 * A JSON object field from a peer (empty: `{}`). Anything else can never apply, however often it is
 * sent: it is rejected (a REJECTED receipt that uses up the seq, so the ordered stream goes on),
 * never an error the sender would retry.
 */
function json(text: string, field: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text || '{}');
    if (v && typeof v === 'object' && !Array.isArray(v)) return storable(v as Record<string, unknown>);
  } catch (e) {
    if (e instanceof DeliveryRejection) throw e;
    // fall through
  }
  throw new DeliveryRejection(`${field} is not a JSON object`);
}

function decode<T>(fn: () => T): T {
  let decoded: T;
  try {
    decoded = fn();
  } catch {
    throw new DeliveryRejection('body is not a valid message of its type');
  }
  return storable(decoded);
}

/** Text one backend cannot store (NUL, unpaired surrogate) can never apply on every gateway: rejected before anything is written. */
function storable<T>(value: T): T {
  const p = findUnstorableText(value);
  if (p) throw new DeliveryRejection(`STORABLE_TEXT: ${p.message}`);
  return value;
}

/** A text field of a peer's JSON, or `fallback` when it is absent or not text (never "[object Object]"). */
function stringOr(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v : fallback;
}
