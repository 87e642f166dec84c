import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CatalogueStore } from '@tongban/catalogue';
import { Clock, DomainException, SELF_CODE, ValidationException, maskIdentifier } from '@tongban/common';
import { hydrate, nullColumns, selectColumns } from '@tongban/persistence';
import { Inject, Optional } from '@nestjs/common';
import { CaseEntity, caseNamedBy } from './case.entity';
import { CaseEventEntity } from './case-event.entity';
import { CaseFiles } from './case-files.port';
import { CaseListQuery, TaskListQuery } from './case-query.schemas';
import { CaseStepEntity, OPEN_STEP, StepStatus } from './case-step.entity';

/** How a step looks in the local API. */
export interface StepView {
  index: number;
  taskId: string;
  role: string;
  province: string;
  action: string;
  name: string;
  status: StepStatus;
  timeLimitWorkingDays: number;
  assignedAt: string | null;
  dueAt: string | null;
  /** The deadline was computed past the end of the working-day calendar: it may be too early. */
  dueAtProvisional: boolean;
  workingDaysLeft: number | null;
  overdue: boolean;
  acceptedAt: string | null;
  finishedAt: string | null;
  actor: string | null;
  inputs: Record<string, string> | null;
  outputs: Record<string, string> | null;
  reason: string | null;
}

/** Reads cases, tasks and histories for the local API; ID numbers are masked. */
@Injectable()
export class CaseQuery {
  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    private readonly catalogue: CatalogueStore,
    @Inject(SELF_CODE) private readonly self: string,
    @Optional() private readonly files?: CaseFiles,
  ) {}

  /** One case (by id or collaboration id) with steps, material files and history. */
  async view(ref: string) {
    // The case, its steps and its history in one statement (one snapshot, one round trip): a
    // branch for the case joined with its steps, another for its events, each NULL in the other's columns.
    const [sql, params] = this.ds.driver.escapeQueryWithParameters(
      `SELECT ${selectColumns(this.ds, CaseEntity, 'c')}, ${selectColumns(this.ds, CaseStepEntity, 's')}, ${nullColumns(this.ds, CaseEventEntity, 'e')}
         FROM cases c LEFT JOIN case_steps s ON s.case_id = c.id
        WHERE ${caseNamedBy('c')}
       UNION ALL
       SELECT ${nullColumns(this.ds, CaseEntity, 'c')}, ${nullColumns(this.ds, CaseStepEntity, 's')}, ${selectColumns(this.ds, CaseEventEntity, 'e')}
         FROM cases c JOIN case_events e ON e.case_id = c.id
        WHERE ${caseNamedBy('c')}`,
      { ref },
      {},
    );
    const rows = await this.ds.query<Record<string, unknown>[]>(sql, params);
    const first = rows.find((r) => r.c__id != null);
    if (!first) throw new DomainException('NOT_FOUND', `no case ${ref.slice(0, 80)}`);
    const c = hydrate(this.ds, CaseEntity, first, 'c');
    const steps = rows
      .filter((r) => r.c__id === c.id && r.s__case_id != null)
      .map((r) => hydrate(this.ds, CaseStepEntity, r, 's'))
      .sort((a, b) => a.idx - b.idx);
    const events = rows
      .filter((r) => r.e__case_id === c.id)
      .map((r) => hydrate(this.ds, CaseEventEntity, r, 'e'))
      .sort((a, b) => a.seq - b.seq);
    return {
      ...this.summary(c, steps),
      participants: c.participants,
      applicant: { name: c.applicantName, idNumber: c.applicantIdNumber ? maskIdentifier(c.applicantIdNumber) : null },
      received: c.received,
      materials: c.materials,
      // Files exist only for materials of the case's item (upload and receipt both check): none to look for otherwise.
      files: this.files && c.item.materials.length > 0 ? await this.files.list(c.id) : [],
      steps: steps.map((s) => this.step(c, s)),
      events: events.map((e) => ({ seq: e.seq, at: e.at.toISOString(), type: e.type, province: e.province, actor: e.actor, stepIndex: e.stepIndex, details: e.details })),
    };
  }

  /** Cases here (owned or taken part in), newest first; `overdue` keeps those with a late open step. */
  async list(q: CaseListQuery) {
    // Written into the statement's text (LIMIT/OFFSET of the page's subquery): integers in the query schema's bounds, whoever the caller.
    const limit = pageNumber('limit', q.limit ?? 100, 1, 1000);
    const offset = pageNumber('offset', q.offset ?? 0, 0, 1_000_000);
    const where: string[] = [];
    if (q.state) where.push('c.state = :state');
    if (q.itemCode) where.push('c.item_code = :item');
    if (q.overdue === true) where.push(`c.state = 'OPEN' AND EXISTS (SELECT 1 FROM case_steps s WHERE s.case_id = c.id AND s.status IN (:...open) AND s.due_at < :now)`);
    // The page of cases and their steps in one statement (hydrated like the view's), steps grouped by
    // case in one pass: a page of 1,000 cases was a query-builder read, a second read of their steps
    // and a scan of every step for each case.
    const [sql, params] = this.ds.driver.escapeQueryWithParameters(
      `SELECT ${selectColumns(this.ds, CaseEntity, 'c')}, ${selectColumns(this.ds, CaseStepEntity, 's')}
         FROM (SELECT * FROM cases c${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY c.created_at DESC, c.id LIMIT ${limit} OFFSET ${offset}) c
         LEFT JOIN case_steps s ON s.case_id = c.id
        ORDER BY c.created_at DESC, c.id, s.idx`,
      { state: q.state, item: q.itemCode, open: OPEN_STEP, now: this.clock.now().getTime() },
      {},
    );
    const rows = await this.ds.query<Record<string, unknown>[]>(sql, params);
    const page: { c: CaseEntity; steps: CaseStepEntity[] }[] = [];
    for (const r of rows) {
      if (page.length === 0 || page[page.length - 1].c.id !== r.c__id) page.push({ c: hydrate(this.ds, CaseEntity, r, 'c'), steps: [] });
      if (r.s__case_id != null) page[page.length - 1].steps.push(hydrate(this.ds, CaseStepEntity, r, 's'));
    }
    return { cases: page.map(({ c, steps }) => this.summary(c, steps)) };
  }

  /** Steps this province performs, as tasks. */
  async tasks(q: TaskListQuery) {
    const statuses = q.status ?? OPEN_STEP;
    const limit = q.limit ?? 200;
    // Steps and their cases in one statement (robots poll this), each case built once.
    const [sql, params] = this.ds.driver.escapeQueryWithParameters(
      `SELECT ${selectColumns(this.ds, CaseStepEntity, 's')}, ${selectColumns(this.ds, CaseEntity, 'c')}
         FROM case_steps s JOIN cases c ON c.id = s.case_id
        WHERE s.province = :self AND s.status IN (:...statuses)
        ORDER BY s.due_at LIMIT ${Number(limit)}`,
      { self: this.self, statuses },
      {},
    );
    const rows = await this.ds.query<Record<string, unknown>[]>(sql, params);
    const byId = new Map<unknown, CaseEntity>();
    return {
      tasks: rows.map((r) => {
        const s = hydrate(this.ds, CaseStepEntity, r, 's');
        let c = byId.get(r.c__id);
        if (!c) byId.set(r.c__id, (c = hydrate(this.ds, CaseEntity, r, 'c')));
        return {
          ...this.step(c, s),
          id: `${c.collaborationId}~${s.idx}`,
          caseId: c.id,
          collaborationId: c.collaborationId,
          itemCode: c.itemCode,
          itemName: c.item.name,
          acceptingProvince: c.owner,
          caseState: c.state,
          applicant: { name: c.applicantName },
        };
      }),
    };
  }

  private summary(c: CaseEntity, steps: CaseStepEntity[]) {
    const now = this.clock.now();
    return {
      caseId: c.id,
      collaborationId: c.collaborationId,
      itemCode: c.itemCode,
      itemName: c.item.name,
      itemVersion: c.itemVersion,
      mode: c.mode,
      state: c.state,
      acceptingProvince: c.owner,
      ownedHere: c.owner === this.self,
      currentStep: c.currentStep,
      overdue: c.state === 'OPEN' && steps.some((s) => OPEN_STEP.includes(s.status) && !!s.dueAt && s.dueAt < now),
      openedAt: c.createdAt.toISOString(),
      updatedAt: c.updatedAt.toISOString(),
      closedAt: c.closedAt?.toISOString() ?? null,
      closeReason: c.closeReason,
      refusedStep: c.refusedStep,
    };
  }

  private step(c: CaseEntity, s: CaseStepEntity): StepView {
    const now = this.clock.now();
    const open = OPEN_STEP.includes(s.status);
    return {
      index: s.idx,
      taskId: `${c.collaborationId}~${s.idx}`,
      role: s.role,
      province: s.province,
      action: s.action,
      name: s.name,
      status: s.status,
      timeLimitWorkingDays: s.timeLimitDays,
      assignedAt: s.assignedAt?.toISOString() ?? null,
      dueAt: s.dueAt?.toISOString() ?? null,
      dueAtProvisional: s.dueAtProvisional,
      workingDaysLeft: open && s.dueAt ? (s.dueAt < now ? -this.catalogue.calendar().workingDaysBetween(s.dueAt, now) : this.catalogue.calendar().workingDaysBetween(now, s.dueAt)) : null,
      overdue: open && !!s.dueAt && s.dueAt < now,
      acceptedAt: s.acceptedAt?.toISOString() ?? null,
      finishedAt: s.finishedAt?.toISOString() ?? null,
      actor: s.actor,
      inputs: s.inputs,
      outputs: s.outputs,
      reason: s.reason,
    };
  }
}

/** A paging number for a statement's text: an integer within [min, max], or a 400 naming the field. */
function pageNumber(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new ValidationException(field, 'RANGE', `${field}: must be a whole number between ${min} and ${max}`);
  return v;
}
