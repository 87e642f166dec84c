import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  CaseListQuery,
  CaseNotes,
  CaseOwner,
  CaseQuery,
  TaskListQuery,
  caseListQuery,
  taskListQuery,
  TaskAction,
  TaskService,
  acceptSchema,
  cancelSchema,
  completeSchema,
  openCaseSchema,
  postalSchema,
  reasonSchema,
  resultDeliverySchema,
} from '@tongban/cases';
import { DomainException, ValidQuery } from '@tongban/common';
import { ApiErrors, openApiSchemaOf } from '@tongban/observability';
import { Access } from '@tongban/access';
import { COUNTS_NO_WRITES, WRITES_ONE_TRANSACTION, readAfterCommit } from '@tongban/persistence';
import { Ctx, RequestContext } from './request-context';

// OpenAPI: a 户口迁移 (work transfer) opened at 北京 with 河北 as the origin (README walkthrough).
const OPEN_EXAMPLE = {
  itemCode: 'HUKOU_WORK_TRANSFER',
  applicant: { name: '张三', idNumber: '11010519491231002X' },
  participants: { DESTINATION: '110000', ORIGIN: '130000' },
  materials: [{ code: 'HOUSEHOLD_REGISTER' }, { code: 'RESIDENT_ID_CARD' }, { code: 'TRANSFER_PROOF', form: 'PAPER' }],
  receivedAt: { office: '北京市东城区政务服务中心', clerk: '王窗口', channel: 'WINDOW' },
};
const STEP_EXAMPLE = {
  index: 0,
  taskId: '110000-20261125-K7Q2M9X4TB~0',
  role: 'DESTINATION',
  province: '110000',
  action: 'ACCEPT_AND_APPROVE',
  name: '迁入地受理审批，开具准予迁入证明并推送迁出地',
  status: 'ASSIGNED',
  timeLimitWorkingDays: 5,
  assignedAt: '2026-11-25T02:00:00.000Z',
  dueAt: '2026-12-02T15:59:59.999Z',
  dueAtProvisional: false,
  workingDaysLeft: 5,
  overdue: false,
  acceptedAt: null,
  finishedAt: null,
  actor: null,
  inputs: null,
  outputs: null,
  reason: null,
};
const CASE_EXAMPLE = {
  caseId: '3f9a0c1e-5b7d-4e2a-8c6f-1d2e3f4a5b6c',
  collaborationId: '110000-20261125-K7Q2M9X4TB',
  itemCode: 'HUKOU_WORK_TRANSFER',
  itemName: '工作调动户口迁移',
  itemVersion: '2026.11-1',
  mode: 'JOINT',
  state: 'OPEN',
  acceptingProvince: '110000',
  ownedHere: true,
  currentStep: 0,
  overdue: false,
  openedAt: '2026-11-25T02:00:00.000Z',
  updatedAt: '2026-11-25T02:00:00.000Z',
  closedAt: null,
  closeReason: null,
  refusedStep: null,
  participants: OPEN_EXAMPLE.participants,
  applicant: { name: '张三', idNumber: '110**************X' },
  received: OPEN_EXAMPLE.receivedAt,
  materials: OPEN_EXAMPLE.materials,
  files: [],
  steps: [STEP_EXAMPLE],
  events: [
    {
      seq: 1,
      at: '2026-11-25T02:00:00.000Z',
      type: 'CASE_OPENED',
      province: '110000',
      actor: 'hall',
      stepIndex: null,
      details: { itemCode: 'HUKOU_WORK_TRANSFER', itemVersion: '2026.11-1', channel: 'WINDOW', office: '北京市东城区政务服务中心' },
    },
  ],
};
const CASE_SCHEMA = {
  type: 'object',
  description: 'A case with its steps, material files and history; the applicant ID number is masked',
  properties: {
    caseId: { type: 'string' },
    collaborationId: { type: 'string', description: 'The id every participating gateway knows the case by' },
    state: { type: 'string', enum: ['OPEN', 'COMPLETED', 'REFUSED', 'CANCELLED'] },
    acceptingProvince: { type: 'string' },
    currentStep: { type: 'integer' },
    overdue: { type: 'boolean' },
    steps: { type: 'array', items: { type: 'object' } },
    events: { type: 'array', items: { type: 'object' } },
  },
};
const TASKS_EXAMPLE = {
  tasks: [
    {
      ...STEP_EXAMPLE,
      id: STEP_EXAMPLE.taskId,
      caseId: CASE_EXAMPLE.caseId,
      collaborationId: CASE_EXAMPLE.collaborationId,
      itemCode: 'HUKOU_WORK_TRANSFER',
      itemName: CASE_EXAMPLE.itemName,
      acceptingProvince: '110000',
      caseState: 'OPEN',
      applicant: { name: '张三' },
    },
  ],
};
const TASK_ID = { name: 'id', description: 'Task id: `<collaborationId>~<step index>`', example: '110000-20261125-K7Q2M9X4TB~1' };

/**
 * Local API for cases (accepting offices, supervision) and tasks (departments). Opening a case and
 * acting on a task write in one case transaction and read the answer after its commit, and the reads
 * write nothing: their writes are not counted (confirmed-writes.ts), so serving them turns on no
 * async hooks. The other write routes here are counted.
 */
@ApiTags('cases')
@ApiBearerAuth('api')
@Controller('v1')
export class CasesController {
  constructor(
    private readonly owner: CaseOwner,
    private readonly query: CaseQuery,
    private readonly tasks: TaskService,
    private readonly notes: CaseNotes,
  ) {}

  /** The case as the change left it: read after the commit, so a lost connection must not say "nothing was stored". */
  private answer(id: string, ref = id) {
    return readAfterCommit(() => this.query.view(id), `/v1/cases/${ref}`);
  }

  @Access.scope('cases')
  @Post('cases')
  @RouteConfig(WRITES_ONE_TRANSACTION)
  @ApiOperation({ summary: 'Open a case here (this gateway must hold the accepting role); steps go to the other provinces as signed messages' })
  @ApiBody({
    schema: openApiSchemaOf(openCaseSchema, 'participants maps each role of the catalogue item to a province code'),
    examples: { hukouWorkTransfer: { summary: '户口迁移 (工作调动): 北京 accepts, 河北 is the origin', value: OPEN_EXAMPLE } },
  })
  @ApiResponse({ status: 201, description: 'The case as opened', schema: CASE_SCHEMA, example: CASE_EXAMPLE })
  @ApiErrors(400, 401, 403)
  open(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.owner.open(body, ctx.caller, ctx.correlationId).then((r) => this.answer(r.caseId, r.collaborationId));
  }

  @Access.scope('cases')
  @Get('cases')
  @RouteConfig(COUNTS_NO_WRITES)
  @ApiOperation({ summary: 'Cases held here (owned or taken part in), newest first' })
  @ApiQuery({ name: 'state', required: false, enum: ['OPEN', 'COMPLETED', 'REFUSED', 'CANCELLED'] })
  @ApiQuery({ name: 'overdue', required: false, enum: ['true'], description: 'Only OPEN cases with an open step past its due time' })
  @ApiQuery({ name: 'itemCode', required: false, example: 'HUKOU_WORK_TRANSFER' })
  @ApiQuery({ name: 'limit', required: false, description: '1–1000, default 100' })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { cases: { type: 'array', items: { type: 'object' } } } } })
  @ApiErrors(400, 401)
  @ValidQuery(caseListQuery)
  list(@Query() q: CaseListQuery) {
    return this.query.list(q);
  }

  @Access.scope('cases')
  @Get('cases/:id')
  @RouteConfig(COUNTS_NO_WRITES)
  @ApiOperation({ summary: 'One case by case id or collaboration id' })
  @ApiParam({ name: 'id', example: '110000-20261125-K7Q2M9X4TB' })
  @ApiResponse({ status: 200, schema: CASE_SCHEMA, example: CASE_EXAMPLE })
  @ApiErrors(401, 404)
  view(@Param('id') id: string) {
    return this.query.view(id);
  }

  @Access.scope('cases')
  @Post('cases/:id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel an open case (accepting gateway only); every participant is told' })
  @ApiBody({ schema: openApiSchemaOf(cancelSchema), examples: { withdrawn: { summary: 'The applicant withdrew', value: { reason: '申请人撤回申请' } } } })
  @ApiResponse({ status: 200, schema: CASE_SCHEMA })
  @ApiErrors(400, 401, 403, 404, 409)
  cancel(@Param('id') id: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.owner.cancel(id, body, ctx.caller, ctx.correlationId).then(() => this.answer(id));
  }

  @Access.scope('cases')
  @Post('cases/:id/postal')
  @HttpCode(200)
  @ApiOperation({ summary: '异地代收代办: record paper materials or the result sent or received by post' })
  @ApiBody({
    schema: openApiSchemaOf(postalSchema),
    examples: { materialsSent: { summary: 'Paper materials posted to the home province', value: { item: 'MATERIALS', event: 'SENT', carrier: 'EMS', trackingNumber: 'EMS1234567890CN' } } },
  })
  @ApiResponse({ status: 200, schema: CASE_SCHEMA })
  @ApiErrors(400, 401, 403, 404, 409)
  postal(@Param('id') id: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.notes.postal(id, body, ctx.caller, ctx.correlationId).then(() => this.answer(id));
  }

  @Access.scope('cases')
  @Post('cases/:id/result-delivery')
  @HttpCode(200)
  @ApiOperation({ summary: 'Record that the result was handed to the applicant' })
  @ApiBody({ schema: openApiSchemaOf(resultDeliverySchema), examples: { electronic: { summary: 'Sent electronically', value: { channel: 'ELECTRONIC', reference: '京证送达2026-000123' } } } })
  @ApiResponse({ status: 200, schema: CASE_SCHEMA })
  @ApiErrors(400, 401, 403, 404, 409)
  resultDelivery(@Param('id') id: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.notes.resultDelivered(id, body, ctx.caller, ctx.correlationId).then(() => this.answer(id));
  }

  @Access.scope('tasks')
  @Get('tasks')
  @RouteConfig(COUNTS_NO_WRITES)
  @ApiOperation({ summary: 'Steps this province performs, as tasks, soonest due first' })
  @ApiQuery({ name: 'status', required: false, description: 'Comma list of step statuses (default ASSIGNED,ACCEPTED,MATERIALS_REQUESTED)', example: 'ASSIGNED' })
  @ApiQuery({ name: 'limit', required: false, description: '1–1000, default 200' })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { tasks: { type: 'array', items: { type: 'object' } } } }, example: TASKS_EXAMPLE })
  @ApiErrors(400, 401)
  @ValidQuery(taskListQuery)
  listTasks(@Query() q: TaskListQuery) {
    return this.query.tasks(q);
  }

  @Access.scope('tasks')
  @Get('tasks/:id/applicant')
  @ApiOperation({ summary: "The applicant's full ID number, for a step that needs it (audited as case.applicant.disclosed)" })
  @ApiParam(TASK_ID)
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { name: { type: 'string' }, idNumber: { type: 'string' } } } })
  @ApiErrors(401, 403, 404)
  applicant(@Param('id') id: string, @Ctx() ctx: RequestContext) {
    return this.tasks.applicant(id, ctx.caller);
  }

  @Access.scope('tasks')
  @Post('tasks/:id/:action')
  @RouteConfig(WRITES_ONE_TRANSACTION)
  @HttpCode(200)
  @ApiOperation({ summary: 'Act on a task of this province: accept, complete (outputs go to the next step), refuse (ends the case) or request materials' })
  @ApiParam(TASK_ID)
  @ApiParam({ name: 'action', enum: ['accept', 'complete', 'refuse', 'request-materials'] })
  @ApiBody({
    description: 'accept: {note?}; complete: {outputs, note?}; refuse and request-materials: {reason}',
    schema: { oneOf: [openApiSchemaOf(acceptSchema), openApiSchemaOf(completeSchema), openApiSchemaOf(reasonSchema)] },
    examples: {
      complete: { summary: 'complete: 北京 approves the transfer', value: { outputs: { approval_no: '京准迁字2026第001号' } } },
      refuse: { summary: 'refuse', value: { reason: '不予迁出: 户籍信息不符' } },
      accept: { summary: 'accept', value: {} },
    },
  })
  @ApiResponse({ status: 200, description: 'The case after the action', schema: CASE_SCHEMA })
  @ApiErrors(400, 401, 403, 404, 409)
  act(@Param('id') id: string, @Param('action') action: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    if (!['accept', 'complete', 'refuse', 'request-materials'].includes(action)) throw new DomainException('NOT_FOUND', `no task action ${action.slice(0, 30)}`);
    return this.tasks.act(id, action as TaskAction, body, ctx.caller, ctx.correlationId).then(() => this.answer(id.split('~')[0]));
  }
}
